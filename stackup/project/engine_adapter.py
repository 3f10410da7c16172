"""`EngineView` and `EngineActions` over the real engine.

The project layer's only door to the engine: images (the local store, pulls),
containers (the runtime, found by their labels), networks and volumes. The engine
knows nothing of stacks; everything a stack needs is translated here: a service's
normalized config becomes a runtime spec (`containerspec`), its networks and ports
are wired by the project wiring (`wiring`), its healthcheck is awaited
through the runtime's hook (`health`). Beyond the two protocols, the operations
(`up`, `run`, `exec`, `logs`, ...) use typed methods: a container's record, its log,
a terminal on it, a command in it, the project's lock. The runtime and the image
store themselves stay private.

Every engine module is imported lazily: `up --dry-run` and `ps` on a machine whose
engine holds nothing need only the state directory. A missing engine part (e.g. a
build without the runtime) is reported as one clear line when it is needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackup.errors import NotFoundError, StackupError, UnsupportedError, UserError
from stackup.project import anonymous, containerspec, hooks, naming, secretfiles
from stackup.engine.runtime.containerstate import ContainerState, Status
from stackup.project.events import BuildProgress
from stackup.project.observed import ObservedContainer, ObservedNetwork, ObservedVolume
from stackup.project.plan import BuildRequest, ContainerRequest, NetworkRequest, VolumeRequest
from stackup.shortsyntax import PROPAGATIONS
from stackup.stackfile import support

if TYPE_CHECKING:
    from stackup.engine.build.model import StepEvent, StepOutput
    from stackup.engine.images.store import ImageStore
    from stackup.engine.images.store import Image
    from stackup.engine.runtime.container import ProcessRow, Runtime
    from stackup.engine.runtime.healthcheck import Check
    from stackup.engine.runtime.logs import LogEntry
    from stackup.engine.runtime.spec import Mount
    from stackup.engine.runtime.usage import Sample

ANONYMOUS_VOLUMES = naming.PREFIX + "anonymous-volumes"   # on a container: its anonymous volumes
ANONYMOUS = naming.PREFIX + "anonymous"                    # on a volume: made for one container
ANONYMOUS_KEY = "-anonymous"                               # its volume key (no stack key starts with -)
# the engine's transient statuses, as Docker shows them
_STATUS = {Status.CREATING: Status.CREATED, Status.STARTING: Status.RUNNING}


class StartFailed(StackupError):
    """A container's PID 1 or an exec'd command could not start; `exit_code` is
    Docker's (125 setup, 126 cannot run, 127 not found), which `run` and `exec` return."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@contextlib.contextmanager
def _start_failures() -> Iterator[None]:
    """The runtime's start failures raised as the project's StartFailed."""
    try:
        yield
    except StackupError as exc:
        from stackup.engine.runtime.container import StartError

        if isinstance(exc, StartError):
            raise StartFailed(str(exc), exc.exit_code) from None
        raise


def _matches(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def _epoch(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return 0.0


class Engine:
    """The engine as the project layer sees it (view and actions in one object)."""

    def __init__(self, project: str = "", desired: Mapping[str, Any] | None = None):
        # the stack's networks and volumes (key -> config), so that container specs can
        # name the engine's networks and volumes
        self.project = project
        self.project_networks = dict((desired or {}).get("networks") or {})
        self.project_volumes = dict((desired or {}).get("volumes") or {})
        self.project_secrets = dict((desired or {}).get("secrets") or {})
        self.project_configs = dict((desired or {}).get("configs") or {})
        self.project_services = dict((desired or {}).get("services") or {})   # their hooks
        self.working_dir = "."   # the project's folder: where `file:` secrets and configs are
        self._runtime: Runtime | None = None
        self._store: ImageStore | None = None
        self._resolved: dict[str, Image] = {}   # reference -> the image `image_id` found last
        self.environment: dict[str, str] = {}    # the stack's environment (a build's args and secrets)
        self.on_build: Callable[[BuildProgress], None] | None = None   # a build's steps, as they go

    # -- engine parts ----------------------------------------------------------

    @property
    def _containers(self) -> Runtime:
        if self._runtime is None:
            try:
                from stackup.engine.runtime.container import Runtime
            except ImportError:
                raise UnsupportedError("the container runtime is not available in this build") from None
            from stackup.project.wiring import ProjectWiring

            # given explicitly, so that exactly this wiring wires service containers
            # whatever the process registered globally
            self._runtime = Runtime(wirings=[ProjectWiring()])
        return self._runtime

    def has_runtime(self) -> bool:
        try:
            import stackup.engine.runtime.container  # noqa: F401
        except ImportError:
            return False
        return True

    @property
    def _images(self) -> ImageStore:
        if self._store is None:
            from stackup.engine.images.store import ImageStore

            self._store = ImageStore()
        return self._store

    @staticmethod
    def _network_module() -> Any:
        try:
            from stackup.engine import network

            network.create_network  # noqa: B018 - the lazy export fails here if the engine lacks it
        except (ImportError, AttributeError):
            raise UnsupportedError("the network engine is not available in this build") from None
        return network

    @staticmethod
    def _volumes_module() -> Any:
        try:
            from stackup.engine import volumes
        except ImportError:
            raise UnsupportedError("volumes are not available in this build") from None
        return volumes

    @staticmethod
    def project_lock(project: str) -> contextlib.AbstractContextManager[None]:
        """A lock file under the engine's root that serializes the commands on one
        project (different projects run side by side)."""
        from stackup.engine import state as st

        return st.locked(st.root() / "projects" / f"{project}.lock")

    # -- EngineView -------------------------------------------------------------

    def container_states(self, labels: Mapping[str, str]) -> list[ContainerState]:
        if not self.has_runtime():
            return []
        return [s for s in self._containers.list() if _matches(s.container_spec().labels, labels)]

    @staticmethod
    def observed(state: ContainerState) -> ObservedContainer:
        spec = state.container_spec()
        return ObservedContainer(
            id=state.id, name=state.name, status=_STATUS.get(state.status, state.status),
            labels=dict(spec.labels), image_id=spec.image_id,
            created=_epoch(state.created_at), exit_code=state.exit_code)

    def list_containers(self, labels: Mapping[str, str]) -> Iterable[ObservedContainer]:
        return [self.observed(s) for s in self.container_states(labels)]

    def _networks(self) -> list[dict[str, Any]]:
        # the network records, read without the network engine's kernel modules
        # (pyroute2 costs a no-change `up` a fifth of a second)
        from stackup.engine import network

        return list(network.network_records())

    def list_networks(self, labels: Mapping[str, str]) -> Iterable[ObservedNetwork]:
        return [ObservedNetwork(n["id"], n["name"], dict(n.get("labels") or {}))
                for n in self._networks() if _matches(n.get("labels") or {}, labels)]

    def _volumes(self) -> list[dict[str, Any]]:
        try:
            return list(self._volumes_module().list_volumes())
        except UnsupportedError:
            return []

    def list_volumes(self, labels: Mapping[str, str]) -> Iterable[ObservedVolume]:
        return [ObservedVolume(v["name"], dict(v.get("labels") or {}))
                for v in self._volumes() if _matches(v.get("labels") or {}, labels)]

    def find_network(self, name: str) -> ObservedNetwork | None:
        for n in self._networks():
            if n["name"] == name:
                return ObservedNetwork(n["id"], n["name"], dict(n.get("labels") or {}))
        return None

    def find_volume(self, name: str) -> ObservedVolume | None:
        for v in self._volumes():
            if v["name"] == name:
                return ObservedVolume(v["name"], dict(v.get("labels") or {}))
        return None

    def container(self, ref: str) -> ContainerState:
        """The runtime's record of one container (by id, id prefix or name); raises
        NotFoundError."""
        return self._containers.get(ref)

    def is_logging(self, ref: str) -> bool:
        """Whether the container may still write to its log (False once it is gone)."""
        try:
            return self._containers.get(ref).status.is_up_or_starting()
        except NotFoundError:
            return False

    def top(self, ref: str) -> list[ProcessRow]:
        """The container's processes: uid, pid, ppid, cmd."""
        return self._containers.top(ref)

    @staticmethod
    def usage(container_id: str) -> Sample:
        """The container's CPU time, memory and processes now (from its cgroup)."""
        from stackup.engine.runtime.usage import sample

        return sample(container_id)

    @staticmethod
    def host_memory() -> int:
        """The host's memory in bytes (the limit of a container without one)."""
        from stackup.engine.runtime.usage import host_memory

        return host_memory()

    def image_size(self, image_id: str) -> int | None:
        """The image's size in bytes; None when the store no longer has it."""
        try:
            return int(self._images.get(image_id).size)
        except Exception:  # noqa: BLE001 - the image may have been removed since
            return None

    def image_id(self, reference: str) -> str | None:
        try:
            image = self._images.resolve(reference)
        except UserError:  # NotFoundError or a reference the store cannot parse
            self._resolved.pop(reference, None)
            return None
        self._resolved[reference] = image
        return image.id

    def image_volumes(self, reference: str) -> list[str]:
        # the image `image_id` just resolved (observe asks right after): no second read
        image = self._resolved.get(reference)
        if image is None and self.image_id(reference) is not None:
            image = self._resolved[reference]
        return image_volumes(image) if image is not None else []

    # -- EngineActions: networks, volumes, images --------------------------------

    def create_network(self, request: NetworkRequest) -> None:
        config = request.config
        support.check_supported({"networks": {request.key: config}})  # whoever planned it
        ipam = config.get("ipam") or {}
        self._network_module().create_network(
            request.name, driver=config.get("driver") or "bridge", ipam_config=ipam.get("config"),
            internal=bool(config.get("internal")), labels=dict(request.labels),
            options=config.get("driver_opts") or None, exist_ok=True,
            enable_ipv6=bool(config.get("enable_ipv6")),
            enable_ipv4=config.get("enable_ipv4") is not False)

    def create_volume(self, request: VolumeRequest) -> None:
        config = request.config
        self._volumes_module().create_volume(request.name, labels=dict(request.labels),
                                             driver=config.get("driver") or "local",
                                             driver_opts=config.get("driver_opts") or None)

    def pull_image(self, reference: str) -> None:
        from stackup.engine.images.pull import pull

        pull(self._images, reference)

    def push_image(self, reference: str) -> None:
        from stackup.engine.images.push import push

        push(self._images, reference)

    def build_image(self, request: BuildRequest) -> None:
        """Build the service's image with the engine's builder (its `service:NAME`
        contexts are the images those services have now, the plan built them first);
        each step is reported to `on_build`. A failed build raises BuildFailed with the
        failing step's last lines; bad input (a Dockerfile error) the builder's UserError."""
        from stackup.engine.build import build
        from stackup.project import build as mapping

        spec = request.spec
        if spec is None:
            spec = mapping.service_build(self.project, request.service, {"image": request.image,
                                                                          "build": request.build})
        image_ids = {image: found for _, image in spec.service_contexts.values()
                     if (found := self.image_id(image)) is not None}
        options = mapping.resolved(spec, self.environment, image_ids)
        tail = mapping.StepTail()
        report = self.on_build

        def progress(event: StepEvent | StepOutput) -> None:
            tail(event)
            if report is not None:
                report(BuildProgress(request.image, request.service, event))

        with mapping.secret_files(spec, self.environment, options) as final:
            try:
                build(final, progress)
            except UserError:
                raise
            except StackupError as exc:
                raise tail.failure(exc) from exc

    def remove_image(self, reference: str) -> None:
        def users(image: Image) -> list[str]:
            # any container of any project still on it keeps it (the store refuses)
            return [s.name for s in self.container_states({})
                    if s.container_spec().image_id == image.id]

        self._images.rm(reference, in_use=users)

    def remove_network(self, name: str) -> None:
        self._network_module().remove_network(name)

    def remove_volume(self, name: str) -> None:
        try:
            self._volumes_module().remove_volume(name)
        except NotFoundError:
            pass  # already gone (an anonymous volume goes with its container under -v)

    # -- EngineActions: containers ----------------------------------------------

    def network_name(self, key: str, config: Mapping[str, Any]) -> str:
        return naming.network_name(self.project, key, config)

    def _mounts(self, request: ContainerRequest, image: Image) -> tuple[list[Mount], dict[str, str]]:
        """The runtime mounts of the service's volumes and tmpfs, and its anonymous
        volumes by container path: the ones the request hands on (a recreate's), else
        fresh ones."""
        from stackup.engine.runtime.spec import Mount

        volumes_mod = self._volumes_module()
        specs = []
        made: list[str] = []                 # fresh anonymous volumes (removed again on failure)
        by_target: dict[str, str] = {}       # every anonymous volume, by container path
        tmpfs = request.config.get("tmpfs") or []
        if isinstance(tmpfs, str):
            tmpfs = [tmpfs]

        def anonymous_volume(target: str) -> str:
            import secrets

            # made here with the project's labels, so that `down -v` finds it even
            # after its container is gone
            labels = naming.volume_labels(request.project, ANONYMOUS_KEY)
            labels[ANONYMOUS] = "True"
            target = anonymous.normalize(target)
            handed_on = request.anonymous_volumes.get(target)
            # a handed-on volume is the old container's: used as it is (made again,
            # empty, only if someone removed it meanwhile), never removed on failure
            name = str(volumes_mod.create_volume(handed_on or secrets.token_hex(32), labels=labels,
                                                 anonymous=True)["name"])
            if not handed_on:
                made.append(name)
            by_target[target] = name
            return name

        for mount in request.config.get("volumes") or []:
            mount = dict(mount)
            if mount.get("type") == "volume" and mount.get("source"):
                key = mount["source"]
                mount["source"] = naming.volume_name(request.project, key,
                                                     self.project_volumes.get(key) or {})
            elif mount.get("type") == "volume":
                mount["source"] = anonymous_volume(mount.get("target") or "")
            specs.append(mount)
        # the image's own VOLUMEs a service mount does not cover become anonymous
        # volumes, as compose does (filled from the image below)
        for target in anonymous.uncovered_image_volumes(request.config, image_volumes(image)):
            specs.append({"type": "volume", "source": anonymous_volume(target), "target": target})
        resolved = []
        try:
            for spec in specs:
                root = _layer_with(image, spec.get("target", "")) if spec.get("type") == "volume" else None
                resolved += volumes_mod.resolve_mounts([spec], image_root=root)
            resolved += volumes_mod.resolve_mounts([], tmpfs=tmpfs)
        except BaseException:
            for name in made:  # nothing half-made: the anonymous volumes go too
                _quietly(volumes_mod.remove_volume, name, True)
            raise
        mounts = []
        for m in resolved:
            options: dict[str, Any] = {}
            if m.type == "tmpfs":
                for opt in m.options:
                    key, eq, value = opt.partition("=")
                    if eq and key in ("size", "mode"):
                        options[key] = value
            propagation = next((o for o in m.options if o in PROPAGATIONS), "rprivate")
            mounts.append(Mount(type=m.type, target=m.target, source=m.source,
                                read_only=m.read_only, options=options,
                                propagation="" if propagation == "rprivate" else propagation))
        return mounts, by_target

    def project_secrets_and_configs(self) -> dict[str, Any]:
        return {"secrets": self.project_secrets, "configs": self.project_configs}

    def service_container(self, project: str, service: str, where: str) -> ContainerState:
        """The container a `service:NAME` reference means, as compose picks it: the
        service's first (a running one before a stopped one: mid-recreate, the new)."""
        found = [s for s in self.container_states({naming.PROJECT: project, naming.SERVICE: service})
                 if not self.observed(s).oneoff]
        if not found:
            raise NotFoundError(f"{where}: service {service} has no container to share")
        return min(found, key=lambda s: (not s.status.is_up(), self.observed(s).number,
                                         -_epoch(s.created_at)))

    def _resolve_shared(self, args: dict[str, Any], project: str, where: str) -> None:
        """`service:NAME` in network_mode, ipc and pid -> `container:<its container's id>`."""
        for key in ("network_mode", "ipc_mode", "pid_mode"):
            value = str(args.get(key) or "")
            if value.startswith("service:"):
                other = self.service_container(project, value.split(":", 1)[1], where)
                args[key] = f"container:{other.id}"

    @staticmethod
    def _devices(host_devices: list[tuple[str, str, str]], where: str) -> list[Any]:
        """The host's nodes for `devices` (host path, container path, permissions)."""
        from stackup.engine.runtime import devices

        found = []
        for host, target, permissions in host_devices:
            try:
                found += devices.from_host(host, target, permissions)
            except UserError as exc:
                raise UserError(f"{where}.devices: {exc}") from None
        return found

    def _volumes_from(self, request: ContainerRequest, own: list[Mount], where: str) -> list[Mount]:
        """The mounts of `volumes_from` (`NAME` a service, `container:NAME` any container;
        `:ro`/`:rw` forces the mode, else each keeps its own), as Docker copies them: its
        volumes and binds (not its tmpfs nor its secrets), but none at a path the
        service mounts itself."""
        from stackup.engine.runtime.container import FILES
        from stackup.engine.runtime.spec import Mount

        taken = {m.target for m in own}
        result: list[Mount] = []
        for entry in request.config.get("volumes_from") or []:
            text = str(entry)
            kind_container = text.startswith("container:")
            ref = text.split(":", 1)[1] if kind_container else text
            ref, _, mode = ref.partition(":")
            if mode not in ("", "ro", "rw"):
                raise UserError(f"{where}.volumes_from: {text!r}: the mode must be ro or rw")
            state = (self._containers.get(ref) if kind_container
                     else self.service_container(request.project, ref, where))
            private = str(self._containers.cdir(state.id) / FILES) + "/"
            for m in state.container_spec().mounts:
                if m.type != "bind" or m.target in taken or m.source.startswith(private):
                    continue
                taken.add(m.target)
                result.append(Mount(type="bind", target=m.target, source=m.source, volume=m.volume,
                                    read_only=m.read_only if not mode else mode == "ro",
                                    propagation=getattr(m, "propagation", "")))
        return result

    def create_container(self, request: ContainerRequest) -> str:
        from stackup.engine.runtime.spec import spec_from_image

        where = f"services.{request.service}"
        try:
            image = self._images.resolve(request.image)
        except NotFoundError:
            raise NotFoundError(f"{where}: image {request.image} is not present") from None
        args = containerspec.spec_arguments(request.config, where=where, container_name=request.name,
                                            service=request.service,
                                            project_networks=self.project_networks,
                                            network_name=self.network_name)
        self._resolve_shared(args, request.project, where)
        args["devices"] = self._devices(args.pop("host_devices", []), where)
        mounts, by_target = self._mounts(request, image)
        mounts = self._volumes_from(request, mounts, where) + mounts
        files = secretfiles.container_files(request.config, self.project_secrets_and_configs(),
                                            self.environment, self.working_dir, where)
        labels = dict(args.pop("labels"))
        labels.update(request.labels)
        labels[naming.IMAGE] = image.id
        if by_target:
            labels[ANONYMOUS_VOLUMES] = ",".join(sorted(by_target.values()))
            labels[anonymous.MOUNTS] = anonymous.encode(by_target)
        spec = spec_from_image(image.config, [str(p) for p in image.layer_dirs()], image=request.image,
                               image_id=image.id, labels=labels, mounts=mounts, **args)
        spec.healthcheck = containerspec.merge_healthcheck(
            image.config.healthcheck, containerspec.healthcheck(request.config, where))
        try:
            state = self._containers.create(spec, name=request.name, files=files)
        except BaseException:
            handed_on = set(request.anonymous_volumes.values())
            for name in set(by_target.values()) - handed_on:   # only what this create made
                _quietly(self._volumes_module().remove_volume, name, True)
            raise
        return state.id

    # -- helpers: shims, DNS servers, port proxies --------------------------------

    def repair_helpers(self) -> list[str]:
        """Bring back the project's helpers that died or stop serving (any `up` calls this
        first): a network's DNS server, a container whose shim died (restarted: its
        processes are killed first), a container's port proxy. What was repaired, a line
        each. The checks read /proc only; the network engine is loaded for a repair. What a
        killed pull left half written in the image store goes too (reported by the engine)."""
        self._images.sweep_leftovers()
        if not self.has_runtime():
            return []
        from stackup.engine import network

        done = []
        mine = {naming.PROJECT: self.project}
        for net in self._networks():
            if _matches(net.get("labels") or {}, mine) and not network.dns_serving(net):
                self._network_module().get_network(net["id"])   # restarts it (gateway address first)
                done.append(f"network {net['name']}: its DNS server was restarted")
        for state in self.container_states(mine):
            # a one-off (`run`) is not started again: that would run its command twice
            if self._containers.shim_lost(state) and not self.observed(state).oneoff:
                self._containers.recover(state.id)
                done.append(f"container {state.name}: its shim had died; restarted")
            elif state.status is Status.RUNNING and network.ensure_proxy(state.id):
                done.append(f"container {state.name}: its port proxy was restarted")
        return done

    @staticmethod
    def networks_without_dns() -> set[str]:
        """The names of the networks whose DNS server does not serve (read once for a
        whole listing, not once per container)."""
        from stackup.engine import network

        return {n["name"] for n in network.network_records() if not network.dns_serving(n)}

    @staticmethod
    def helper_problems(state: ContainerState, dns_down: Collection[str] = ()) -> list[str]:
        """What of a running container's helpers is gone (`ps` shows it degraded): its
        shim, its port proxy, the DNS server of a network it is on (`dns_down`: the
        names from `networks_without_dns`)."""
        if not state.status.is_up():
            return []
        from stackup.engine import network
        from stackup.engine.runtime.container import Runtime

        problems = []
        if Runtime.shim_lost(state):
            problems.append("shim gone")
        if network.proxy_serving(state.id) is False:
            problems.append("port proxy down")
        if set(state.network.get("networks") or {}) & set(dns_down):
            problems.append("DNS server down")
        return problems

    def start_container(self, container: str) -> None:
        self._containers.start(container)
        self._run_hooks(container, "post_start")

    def unpause_container(self, container: str) -> None:
        self._containers.unpause(container)

    def pause_container(self, container: str) -> None:
        self._containers.pause(container)

    def stop_container(self, container: str, timeout: float | None) -> None:
        self._run_hooks(container, "pre_stop")
        self._containers.stop(container, None if timeout is None else int(timeout))

    def _run_hooks(self, container: str, kind: str) -> None:
        """The service's `post_start` or `pre_stop` hooks (see `hooks`) in its running
        container; none without the stack file, as in compose."""
        state = self._containers.get(container)
        service = state.container_spec().labels.get(naming.SERVICE, "")
        found = hooks.of(self.project_services.get(service) or {}, kind)
        if not found or not state.status.can_exec():
            return
        for hook in found:
            code, out = self._exec_captured(state.id, hook)
            if code:
                raise hooks.failed(service, code, out)

    def _exec_captured(self, container: str, hook: hooks.Hook) -> tuple[int, str]:
        """A hook's exit code and output (kept in a file: a pipe nobody reads could fill)."""
        import tempfile

        from stackup.engine.runtime.exec import exec_in

        with tempfile.TemporaryFile() as out, _start_failures():
            code = exec_in(self._containers, container, hook.command, list(hook.env), hook.user,
                           hook.working_dir, privileged=hook.privileged, output=out.fileno())
            out.seek(0)
            return code, out.read().decode(errors="replace")

    def kill_container(self, container: str, signal: str | int = "SIGKILL") -> None:
        self._containers.kill(container, signal)

    def rename_container(self, container: str, new_name: str) -> None:
        self._containers.rename(container, new_name)

    def remove_container(self, container: str, volumes: bool) -> None:
        state = self._containers.get(container)
        labels = state.container_spec().labels
        self._containers.remove(state.id, force=True)
        volumes_mod = self._volumes_module()
        volumes_mod.release(state.id)
        if volumes:
            for name in filter(None, labels.get(ANONYMOUS_VOLUMES, "").split(",")):
                _quietly(volumes_mod.remove_volume, name, True)

    # -- waiting ---------------------------------------------------------------

    def _check(self, container: str) -> tuple[ContainerState, Check | None]:
        from stackup.project import health

        state = self._containers.get(container)
        return state, health.Check.from_docker(state.container_spec().healthcheck)

    def wait_healthy(self, container: str, timeout: float | None) -> None:
        state, check = self._check(container)
        if check is None:
            raise StackupError(f"container {state.name} has no healthcheck")
        from stackup.project import health

        health.wait_healthy(self._containers, state.id, check, timeout)

    def wait_exited(self, container: str, timeout: float | None) -> int:
        return self._containers.wait(container, timeout)

    def wait_ready(self, container: str, timeout: float | None) -> None:
        state, check = self._check(container)
        if check is not None:
            self.wait_healthy(state.id, timeout)
        elif state.status not in (Status.RUNNING, Status.STARTING):
            raise StackupError(f"container {state.name} is {state.status}")

    def log_tail(self, container: str, lines: int) -> list[str]:
        return [e.get("log", "").rstrip("\n") for e in self.log_entries(container, lines)]

    # -- output, terminals and commands ------------------------------------------

    @staticmethod
    def log_time(value: str) -> str:
        """A time or a duration back from now ('10m', a unix time, RFC 3339) in the
        log's own time format, to compare with its entries' `time`."""
        return str(_logs_module().parse_since(value))

    def log_entries(self, container: str, tail: int | None = None, since: str | None = None) -> list[LogEntry]:
        """The container's log as it is now: the last `tail` entries, those after `since`."""
        logs = _logs_module()
        try:
            path = self._containers.log_path(container)
        except NotFoundError:
            return []   # removed meanwhile
        entries: list[LogEntry] = logs.select(path, tail, since)
        return entries

    def follow_log(self, container: str, emit: Callable[[LogEntry], None], *, running: Callable[[], bool],
                   from_start: bool = False) -> None:
        """Emit the log's entries as they are written (all of them first with `from_start`,
        else from now) until `running()` says the writer is done."""
        logs = _logs_module()
        try:
            path = self._containers.log_path(container)
        except NotFoundError:
            return   # removed meanwhile: it writes nothing more
        logs.follow(path, running, emit, None, from_start=from_start)

    def start_attached(self, container: str, tty: bool) -> None:
        """Start a container a terminal will attach to: a tty's first output waits for it."""
        if tty:
            from stackup.engine.runtime.attach import hold_output

            hold_output(self._containers, container)
        with _start_failures():
            self.start_container(container)

    def attach_terminal(self, container: str, tty: bool, interactive: bool, *, from_start: bool) -> None:
        """Our terminal on the started container until it stops (see `start_attached`)."""
        from stackup.engine.runtime.attach import attach_terminal

        attach_terminal(self._containers, container, tty, interactive, from_start=from_start)

    def exec_in(self, container: str, argv: list[str], env: list[str], user: str | None,
                workdir: str | None, *, tty: bool, interactive: bool) -> int:
        """Run a command in the running container, on our terminal; its exit code.
        Raises the runtime's StartError when it cannot start."""
        from stackup.engine.runtime.exec import exec_in

        with _start_failures():
            return exec_in(self._containers, container, argv, env, user, workdir, tty=tty, interactive=interactive)

    def exec_detached(self, container: str, argv: list[str], env: list[str], user: str | None,
                      workdir: str | None) -> None:
        """Start a command in the running container and leave it running there."""
        from stackup.engine.runtime.exec import exec_detached

        with _start_failures():
            exec_detached(self._containers, container, argv, env, user, workdir)


    def copy_into(self, container: str, files: list[tuple[Path, str]], deletions: list[str]) -> None:
        """Write host files (host path, absolute path in the container) into the running
        container and delete paths in it (`watch`'s sync)."""
        from stackup.engine.runtime.copyin import Copy, copy_into

        copy_into(self._containers, container, [Copy(src, dst) for src, dst in files], deletions)

def _logs_module() -> Any:
    """The runtime's log reader, or one clear line when this build has no runtime."""
    try:
        from stackup.engine.runtime import logs
    except ImportError:
        raise UnsupportedError("the container runtime is not available in this build") from None
    return logs


def image_volumes(image: Image) -> list[str]:
    """The image's VOLUME paths, normalized (a relative one is taken from /)."""
    return sorted({anonymous.normalize(v) for v in image.config.volumes})


def _layer_with(image: Image, target: str) -> Path | None:
    """The topmost image layer that has `target`: where an empty named volume is
    filled from (an approximation of the merged image: whiteouts are ignored)."""
    for layer in reversed(list(image.layer_dirs())):
        if (Path(layer) / target.lstrip("/")).exists():
            return Path(layer)
    return None


def _quietly(fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - cleanup of what the failed step made, best effort
        pass

