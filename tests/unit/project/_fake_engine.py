"""An in-memory engine for the project layer's unit tests: it implements both
`EngineView` (what `observe` reads) and `EngineActions` (what the executor calls),
keeps containers, networks, volumes and images as plain dicts, enforces the rules
the real engine enforces (unique names, no removing a running container, an image
must exist to create from it), and records every call in order.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from stackup.engine.runtime.containerstate import ContainerState, Status
from stackup.errors import ConflictError, NotFoundError, StackupError
from stackup.project import anonymous, naming
from stackup.project.observed import ObservedContainer, ObservedNetwork, ObservedVolume


@dataclass
class FakeContainer:
    id: str
    name: str
    status: str
    labels: dict[str, str]
    image_id: str
    created: float
    exit_code: int | None = None


@dataclass
class FakeEngine:
    images: dict[str, str] = field(default_factory=dict)          # local: reference -> id
    image_volume_paths: dict[str, list[str]] = field(default_factory=dict)  # reference -> VOLUME paths
    registry: dict[str, str] = field(default_factory=dict)        # what a pull gets
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    networks: dict[str, dict[str, str]] = field(default_factory=dict)
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    unhealthy: set[str] = field(default_factory=set)              # container names
    exit_codes: dict[str, int] = field(default_factory=dict)      # container name -> code
    fail: dict[tuple[str, str], Exception] = field(default_factory=dict)  # (method, subject) -> error
    logs: dict[str, list[str]] = field(default_factory=dict)
    log_records: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # name -> entries (log, time)
    calls: list[tuple[str, str]] = field(default_factory=list)
    broken_helpers: list[str] = field(default_factory=list)       # what the next repair_helpers repairs

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.counter = itertools.count(1)
        self.project_locks: dict[str, threading.Lock] = {}

    def repair_helpers(self) -> list[str]:
        """The helpers found dead (a test sets them) are restarted: reported once."""
        repaired, self.broken_helpers = self.broken_helpers, []
        return repaired

    def project_lock(self, project):
        """Serializes the operations on one project, as the engine's lock file does."""
        with self.lock:
            return self.project_locks.setdefault(project, threading.Lock())

    # -- recording ------------------------------------------------------------

    def record(self, method: str, subject: str) -> None:
        with self.lock:
            self.calls.append((method, subject))
            error = self.fail.get((method, subject))
        if error is not None:
            raise error

    def by_ref(self, ref: str) -> FakeContainer:
        with self.lock:
            if ref in self.containers:
                return self.containers[ref]
            for container in self.containers.values():
                if container.name == ref:
                    return container
        raise NotFoundError(f"no such container: {ref}")

    # -- EngineView -----------------------------------------------------------

    @staticmethod
    def matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in selector.items())

    def list_containers(self, labels):
        with self.lock:
            return [ObservedContainer(c.id, c.name, c.status, dict(c.labels), c.image_id, c.created, c.exit_code)
                    for c in self.containers.values() if self.matches(c.labels, labels)]

    def list_networks(self, labels):
        with self.lock:
            return [ObservedNetwork("id-" + n, n, dict(l)) for n, l in self.networks.items() if self.matches(l, labels)]

    def list_volumes(self, labels):
        with self.lock:
            return [ObservedVolume(n, dict(l)) for n, l in self.volumes.items() if self.matches(l, labels)]

    def find_network(self, name):
        with self.lock:
            return ObservedNetwork("id-" + name, name, dict(self.networks[name])) if name in self.networks else None

    def find_volume(self, name):
        with self.lock:
            return ObservedVolume(name, dict(self.volumes[name])) if name in self.volumes else None

    def image_id(self, reference):
        with self.lock:
            return self.images.get(reference)

    def image_volumes(self, reference):
        with self.lock:
            return list(self.image_volume_paths.get(reference, [])) if reference in self.images else []

    # -- EngineActions --------------------------------------------------------

    def create_network(self, request):
        self.record("create_network", request.name)
        with self.lock:
            if request.name in self.networks:
                raise ConflictError(f"network {request.name} exists")
            self.networks[request.name] = dict(request.labels)

    def create_volume(self, request):
        self.record("create_volume", request.name)
        with self.lock:
            if request.name in self.volumes:
                raise ConflictError(f"volume {request.name} exists")
            self.volumes[request.name] = dict(request.labels)

    def pull_image(self, reference):
        self.record("pull_image", reference)
        with self.lock:
            if reference not in self.registry:
                raise NotFoundError(f"{reference}: not found in the registry")
            self.images[reference] = self.registry[reference]

    def build_image(self, request):
        self.record("build_image", request.image)
        with self.lock:
            self.images[request.image] = "sha256:" + hashlib.sha256(request.image.encode()).hexdigest()

    def create_container(self, request):
        self.record("create_container", request.name)
        with self.lock:
            if request.image not in self.images:
                raise NotFoundError(f"image {request.image} not found")
            if any(c.name == request.name for c in self.containers.values()):
                raise ConflictError(f"container name {request.name} is in use")
            number = next(self.counter)
            cid = hashlib.sha256(f"{request.name}/{number}".encode()).hexdigest()
            labels = dict(request.labels)
            labels[naming.IMAGE] = self.images[request.image]
            # anonymous volumes as the adapter makes them: the ones handed on, else fresh
            mounts = {}
            for target in anonymous.targets(request.config, self.image_volume_paths.get(request.image, [])):
                name = request.anonymous_volumes.get(target) or f"anon{next(self.counter)}"
                self.volumes.setdefault(name, naming.volume_labels(request.project, "-anonymous"))
                mounts[target] = name
            if mounts:
                labels[anonymous.MOUNTS] = anonymous.encode(mounts)
            self.containers[cid] = FakeContainer(cid, request.name, "created", labels,
                                                 self.images[request.image], float(number))
            return cid

    def start_container(self, container):
        c = self.by_ref(container)
        self.record("start_container", c.name)
        with self.lock:
            c.status = "running"
            if c.name in self.exit_codes:
                c.status, c.exit_code = "exited", self.exit_codes[c.name]

    def unpause_container(self, container):
        c = self.by_ref(container)
        self.record("unpause_container", c.name)
        with self.lock:
            if c.status != "paused":
                raise ConflictError(f"{c.name} is not paused")
            c.status = "running"

    def stop_container(self, container, timeout):
        c = self.by_ref(container)
        self.record("stop_container", c.name)
        with self.lock:
            c.status = "exited"
            c.exit_code = 137 if c.exit_code is None else c.exit_code

    def rename_container(self, container, new_name):
        c = self.by_ref(container)
        self.record("rename_container", f"{c.name} -> {new_name}")
        with self.lock:
            if any(o.name == new_name for o in self.containers.values()):
                raise ConflictError(f"container name {new_name} is in use")
            c.name = new_name

    def remove_container(self, container, volumes):
        c = self.by_ref(container)
        self.record("remove_container", c.name)
        with self.lock:
            if c.status in ("running", "paused", "restarting"):
                raise ConflictError(f"{c.name} is running")
            del self.containers[c.id]
            if volumes:
                for name in anonymous.mounts_of(c.labels).values():
                    self.volumes.pop(name, None)

    def wait_healthy(self, container, timeout):
        c = self.by_ref(container)
        self.record("wait_healthy", c.name)
        if c.name in self.unhealthy or c.status != "running":
            raise StackupError(f"{c.name} is unhealthy")

    def wait_exited(self, container, timeout):
        c = self.by_ref(container)
        self.record("wait_exited", c.name)
        return self.exit_codes.get(c.name, 0)

    def wait_ready(self, container, timeout):
        c = self.by_ref(container)
        self.record("wait_ready", c.name)
        if c.status != "running":
            raise StackupError(f"{c.name} is not running")

    def remove_network(self, name):
        self.record("remove_network", name)
        with self.lock:
            self.networks.pop(name)

    def remove_volume(self, name):
        self.record("remove_volume", name)
        with self.lock:
            # as the adapter: already gone is fine (an anonymous volume goes with its container under -v)
            self.volumes.pop(name, None)

    def remove_image(self, reference):
        self.record("remove_image", reference)
        with self.lock:
            if reference not in self.images:
                raise NotFoundError(f"no such image: {reference}")
            del self.images[reference]

    def log_tail(self, container, lines):
        return self.logs.get(self.by_ref(container).name, [])[-lines:]

    # -- what the operations use beyond the executor ---------------------------

    def container_states(self, labels):
        """The runtime's records, in their shape (what `Session.containers` reads)."""
        with self.lock:
            return [ContainerState(id=c.id, name=c.name, status=Status(c.status), exit_code=c.exit_code,
                                   spec={"labels": dict(c.labels), "image_id": c.image_id})
                    for c in self.containers.values() if self.matches(c.labels, labels)]

    def pause_container(self, container):
        c = self.by_ref(container)
        self.record("pause_container", c.name)
        with self.lock:
            c.status = "paused"

    def kill_container(self, container, signal="SIGKILL"):
        c = self.by_ref(container)
        self.record("kill_container", c.name)
        with self.lock:
            c.status, c.exit_code = "exited", 137

    @staticmethod
    def log_time(value):
        return value

    def log_entries(self, container, tail=None, since=None):
        entries = [e for e in self.log_records.get(self.by_ref(container).name, [])
                   if since is None or e["time"] > since]
        return entries if tail is None else entries[len(entries) - tail:]

    # -- helpers for tests ----------------------------------------------------

    def names(self) -> list[str]:
        with self.lock:
            return sorted(c.name for c in self.containers.values())

    def status(self) -> dict[str, str]:
        with self.lock:
            return {c.name: c.status for c in self.containers.values()}
