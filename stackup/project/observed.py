"""A snapshot of what actually exists for one project, read once before reconciling.

`observe(view, project, desired)` asks an `EngineView` for the project's containers,
networks and volumes (found by label), the networks and volumes the stack names
(found by name: external ones, or ones made by hand), and the current id of every
image the stack uses. `reconcile` then compares that snapshot with the stack file
without asking the engine anything more, which is what makes it pure and testable.

`EngineView` is the only thing the engine side must provide here; an adapter in the
project layer implements it over the engine's API (the engine knows no stacks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stackup.engine.runtime.containerstate import Status
from stackup.project import anonymous, naming


@dataclass(frozen=True)
class ObservedContainer:
    """A container as the engine reports it; the project's facts come from its labels."""

    id: str
    name: str
    status: Status               # (a status word is taken too: made a Status here)
    labels: Mapping[str, str] = field(default_factory=dict)
    image_id: str = ""           # the image the container runs, as the engine records it
    created: float = 0.0         # creation time (epoch seconds): a tie-breaker for ordering
    exit_code: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))

    @property
    def project(self) -> str:
        return self.labels.get(naming.PROJECT, "")

    @property
    def service(self) -> str:
        return self.labels.get(naming.SERVICE, "")

    @property
    def number(self) -> int:
        try:
            return int(self.labels.get(naming.NUMBER, "0"))
        except ValueError:
            return 0

    @property
    def oneoff(self) -> bool:
        return self.labels.get(naming.ONEOFF, "False") == "True"

    @property
    def config_hash(self) -> str:
        return self.labels.get(naming.CONFIG_HASH, "")

    @property
    def image_label(self) -> str:
        """The image id recorded when the container was created (else the engine's)."""
        return self.labels.get(naming.IMAGE, "") or self.image_id

    @property
    def depends_on(self) -> dict[str, dict[str, Any]]:
        return naming.decode_depends_on(self.labels.get(naming.DEPENDS_ON))

    @property
    def running(self) -> bool:
        return self.status.is_up()


@dataclass(frozen=True)
class ObservedNetwork:
    """A network as the engine reports it."""

    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.labels.get(naming.NETWORK, "")

    @property
    def project(self) -> str:
        return self.labels.get(naming.PROJECT, "")


@dataclass(frozen=True)
class ObservedVolume:
    """A volume as the engine reports it."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.labels.get(naming.VOLUME, "")

    @property
    def project(self) -> str:
        return self.labels.get(naming.PROJECT, "")


class EngineView(Protocol):
    """What `observe` needs from the engine: read-only, no knowledge of stacks.

    `labels` filters are exact matches on every given label. `image_id` takes an
    image reference as the stack writes it (`busybox`, `nginx:alpine`, ...) and
    returns the id (`sha256:...`) of the local image it names, or None when there
    is no such image locally; it never pulls.
    """

    def list_containers(self, labels: Mapping[str, str]) -> Iterable[ObservedContainer]: ...

    def list_networks(self, labels: Mapping[str, str]) -> Iterable[ObservedNetwork]: ...

    def list_volumes(self, labels: Mapping[str, str]) -> Iterable[ObservedVolume]: ...

    def find_network(self, name: str) -> ObservedNetwork | None: ...

    def find_volume(self, name: str) -> ObservedVolume | None: ...

    def image_id(self, reference: str) -> str | None: ...

    def image_volumes(self, reference: str) -> Iterable[str]:
        """The `VOLUME` paths of the local image `reference` (the one `image_id` just
        found); empty when it has none or there is no such image."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """Everything of one project the engine holds, at one moment."""

    project: str
    containers: tuple[ObservedContainer, ...] = ()
    networks: tuple[ObservedNetwork, ...] = ()
    volumes: tuple[ObservedVolume, ...] = ()
    # image reference (as the stack writes it) -> local image id; a reference absent
    # from the map, or mapped to None, has no local image.
    images: Mapping[str, str | None] = field(default_factory=dict)
    # image reference -> the local image's VOLUME paths (normalized), for the images
    # that have some: where a service's containers get anonymous volumes.
    image_volumes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def service_containers(self, service: str) -> list[ObservedContainer]:
        """The service's (not one-off) containers, by number then creation time."""
        found = [c for c in self.containers if c.service == service and not c.oneoff]
        return sorted(found, key=lambda c: (c.number, c.created, c.name))

    def oneoffs(self) -> list[ObservedContainer]:
        return sorted((c for c in self.containers if c.oneoff), key=lambda c: c.name)

    def orphans(self, known_services: Iterable[str]) -> list[ObservedContainer]:
        """Containers of the project that the stack no longer describes: those of
        services it lacks, and one-offs that have exited (a running `run` stays)."""
        known = set(known_services)
        found = [c for c in self.containers
                 if (c.oneoff and not c.running) or (not c.oneoff and c.service not in known)]
        return sorted(found, key=lambda c: c.name)

    def network(self, key: str, name: str) -> ObservedNetwork | None:
        """The live network for stack key `key`: an exact name match first (ours or
        made by hand), else one carrying our label for that key."""
        by_name = [n for n in self.networks if n.name == name]
        if by_name:
            return by_name[0]
        labelled = sorted((n for n in self.networks if n.key == key and n.project == self.project),
                          key=lambda n: n.name)
        return labelled[0] if labelled else None

    def volume(self, key: str, name: str) -> ObservedVolume | None:
        by_name = [v for v in self.volumes if v.name == name]
        if by_name:
            return by_name[0]
        labelled = sorted((v for v in self.volumes if v.key == key and v.project == self.project),
                          key=lambda v: v.name)
        return labelled[0] if labelled else None

    def image(self, reference: str) -> str | None:
        return self.images.get(reference)

    def volumes_of_image(self, reference: str) -> tuple[str, ...]:
        return tuple(self.image_volumes.get(reference) or ())


def observe(view: EngineView, project: str, desired: Mapping[str, Any] | None = None,
            images_too: bool = True) -> Snapshot:
    """Read the project's state through `view`.

    With `desired` (the normalized stack dict), networks and volumes it names are
    also looked up by name, and (unless not `images_too`: `down` has no use for them and
    reading them loads the image store) the id and VOLUME paths of every image its
    services use are read.
    """
    selector = {naming.PROJECT: project}
    containers = {c.id: c for c in view.list_containers(selector)}
    networks = {n.name: n for n in view.list_networks(selector)}
    volumes = {v.name: v for v in view.list_volumes(selector)}
    images: dict[str, str | None] = {}
    image_volumes: dict[str, tuple[str, ...]] = {}
    if desired:
        for key, config in sorted((desired.get("networks") or {}).items()):
            name = naming.network_name(project, key, config)
            if name not in networks:
                found = view.find_network(name)
                if found is not None:
                    networks[found.name] = found
        for key, config in sorted((desired.get("volumes") or {}).items()):
            name = naming.volume_name(project, key, config)
            if name not in volumes:
                found_volume = view.find_volume(name)
                if found_volume is not None:
                    volumes[found_volume.name] = found_volume
        for service, config in sorted((desired.get("services") or {}).items() if images_too else ()):
            ref = naming.service_image(project, service, config or {})
            if ref not in images:
                images[ref] = view.image_id(ref)
                if images[ref]:
                    paths = sorted({anonymous.normalize(p) for p in view.image_volumes(ref)})
                    if paths:
                        image_volumes[ref] = tuple(paths)
    return Snapshot(
        project=project,
        containers=tuple(sorted(containers.values(), key=lambda c: c.name)),
        networks=tuple(sorted(networks.values(), key=lambda n: n.name)),
        volumes=tuple(sorted(volumes.values(), key=lambda v: v.name)),
        images=images,
        image_volumes=image_volumes,
    )
