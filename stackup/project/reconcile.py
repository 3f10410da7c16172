"""Decide every operation of `up` and `down`: pure functions from (stack, snapshot,
options) to a `Plan`. Nothing here touches the engine.

`up` (`reconcile`), in this order of plan operations:
1. networks and volumes the selected services use, created when missing (an
   external one that is missing is an error);
2. images: pulled or built by the service's `pull_policy` or `--pull`/`--build`/
   `--no-build` (`_image_action`, compose's rules); a build that takes another
   service's image as a `service:NAME` context comes after that image's op;
3. containers, service by service in dependency order:
   - scale down: the obsolete then the highest-numbered containers are stopped
     and removed;
   - recreate (config hash changed, image changed, `--force-recreate` or
     `-V/--renew-anon-volumes`, or a service whose namespace it shares was
     recreated): stop the old container, rename it out of the way, create the
     new one under the name (with the old one's anonymous volumes at the same
     paths, unless `-V`), start it, remove the old one (never its volumes, as
     compose); dependents with `depends_on.restart: true` are stopped first and
     started again afterwards;
   - start what is created/exited, unpause what is paused;
   - scale up: new containers numbered after the highest existing number;
   the creation of a service's containers waits for its dependencies: the start
   of each (`service_started`) or a WAIT operation (`service_healthy`,
   `service_completed_successfully`) shared by all dependents;
4. orphans (containers of services no longer in the stack, exited one-offs):
   stopped and removed with `--remove-orphans`, else a warning;
5. with `--wait`, a WAIT (ready) on every started service.
Nothing changed means an empty plan.

Image changes are judged against the image ids in the snapshot. A pull in the
same plan may change an id, so `up` runs in two steps: `plan_images` (pulls and
builds only), execute, observe again, then `reconcile` with
`images_resolved=True`. `--dry-run` prints one `reconcile` plan with the pulls
in it, judging images as they are before the pull.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stackup.errors import NotFoundError, UnsupportedError, UserError
from stackup.project import anonymous, naming
from stackup.engine.runtime.containerstate import Status
from stackup.project.build import ServiceBuild, service_build
from stackup.project.observed import ObservedContainer, Snapshot
from stackup.project.plan import (
    COMPLETED,
    HEALTHY,
    READY,
    BuildRequest,
    ContainerRequest,
    Kind,
    NetworkRequest,
    Plan,
    VolumeRequest,
)

PULL_CHOICES = ("policy", "always", "missing", "never")
RMI_CHOICES = ("local", "all")
RECREATE_DIVERGED, RECREATE_FORCE, RECREATE_NEVER = "diverged", "force", "never"

MAX_REPLICAS = 10_000  # of one service: more is a typo, and its plan alone would fill memory


@dataclass(frozen=True)
class UpOptions:
    """`up`'s flags, as reconcile uses them."""

    services: tuple[str, ...] = ()          # selection; empty = every service
    no_deps: bool = False
    force_recreate: bool = False            # selected services only, as compose
    renew_anon_volumes: bool = False        # -V: fresh anonymous volumes on recreate (and forces it, as compose)
    always_recreate_deps: bool = False
    no_recreate: bool = False
    no_start: bool = False
    pull: str = "policy"                    # --pull: policy (the service's pull_policy) | always | missing | never
    build: bool = False                     # --build: build every service that has a build section
    no_build: bool = False                  # --no-build: build none (a missing image is an error)
    scale: Mapping[str, int] = field(default_factory=dict)
    remove_orphans: bool = False
    timeout: float | None = None            # -t: stop grace period
    wait: bool = False                      # --wait
    wait_timeout: float | None = None
    disabled_services: frozenset[str] = frozenset()  # known but profile-disabled: not orphans
    images_resolved: bool = False           # pulls/builds already done: plan none
    config_files: tuple[str, ...] = ()      # for labels
    working_dir: str | None = None          # for labels


@dataclass(frozen=True)
class DownOptions:
    """`down`'s flags, as plan_down uses them."""

    volumes: bool = False                   # -v
    remove_orphans: bool = False
    rmi: str | None = None                  # local | all
    timeout: float | None = None
    disabled_services: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------
# dependency order


def _dependencies(services: Mapping[str, Any], name: str) -> list[str]:
    """The services `name` depends on that the stack has, sorted."""
    depends = (services.get(name) or {}).get("depends_on") or {}
    return sorted(d for d in depends if d in services)


def dependency_order(services: Mapping[str, Any]) -> list[str]:
    """Services with dependencies before dependents, level by level (the same order
    as `stackup.graph.ServiceGraph.levels`, flattened), ties in name order.

    Kept free of networkx: importing it costs a no-change `up` ~0.1 s of its 0.3 s
    budget, and the stack file's graph was already checked (cycles, missing
    services) by the loader."""
    remaining = {name: set(_dependencies(services, name)) for name in services}
    order: list[str] = []
    while remaining:
        ready = sorted(n for n, deps in remaining.items() if not deps)
        if not ready:
            raise UserError("dependency cycle detected between services: " + ", ".join(sorted(remaining)))
        for name in ready:
            order.append(name)
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def selection_closure(services: Mapping[str, Any], selected: Sequence[str], no_deps: bool) -> set[str]:
    """The services an `up SERVICE...` acts on: the selection and (unless
    `--no-deps`) everything it depends on."""
    unknown = [s for s in selected if s not in services]
    if unknown:
        raise NotFoundError("no such service: " + ", ".join(unknown))
    if not selected:
        return set(services)
    scope = set(selected)
    if no_deps:
        return scope
    todo = list(selected)
    while todo:
        for dep in _dependencies(services, todo.pop()):
            if dep not in scope:
                scope.add(dep)
                todo.append(dep)
    return scope


def _shared_namespace_parents(config: Mapping[str, Any]) -> list[str]:
    """Services whose container this service's container refers to by id
    (network_mode/ipc/pid `service:x`, volumes_from)."""
    parents = []
    for key in ("network_mode", "ipc", "pid"):
        value = str(config.get(key) or "")
        if value.startswith("service:"):
            parents.append(value.split(":", 1)[1])
    for source in config.get("volumes_from") or []:
        if not str(source).startswith("container:"):
            parents.append(str(source).split(":", 1)[0])
    return parents


# ---------------------------------------------------------------------------
# images


@dataclass(frozen=True)
class ImageAction:
    """How one service gets its image: PULL or BUILD, and why. A PULL with
    `build_fallback` builds when no registry has the image (a service with both
    `image:` and `build:`, as compose's `up` does); a `best_effort` PULL only warns
    when it fails (the image is present, as compose ignores the failed pull of an
    image it can build)."""

    kind: Kind
    reason: str
    build_fallback: bool = False
    best_effort: bool = False


def _image_action(project: str, service: str, config: Mapping[str, Any], snapshot: Snapshot,
                  options: UpOptions) -> ImageAction | None:
    """What `up` does for one service's image (compose's ensureImagesExists: pull what
    the policy asks for, a failed pull of a buildable image is not an error, then build
    what is still missing, or everything with `--build`), or None."""
    ref = naming.service_image(project, service, config)
    has_build = bool(config.get("build"))
    has_image = bool(config.get("image"))
    present = snapshot.image(ref) is not None
    can_build = has_build and not options.no_build
    if options.build and has_build:
        return ImageAction(Kind.BUILD, "--build")
    if options.pull != "policy":
        policy, source = options.pull, f"--pull {options.pull}"
    else:
        policy = str(config.get("pull_policy") or "missing")
        source = f"pull_policy {policy}"
    if policy == "if_not_present":
        policy = "missing"
    if policy not in ("always", "missing", "never", "build"):
        raise UnsupportedError(f"services.{service}.pull_policy: {policy!r} is not supported by stackup")
    if policy == "build":
        if not has_build:
            raise UserError(f"services.{service}: pull_policy is build but the service has no build section")
        if can_build:
            return ImageAction(Kind.BUILD, source)
    elif policy == "always" and has_image:
        if has_build and present:
            return ImageAction(Kind.PULL, source + "; the present image is kept if the pull fails",
                               best_effort=True)
        if can_build:
            return ImageAction(Kind.PULL, source + "; built if the pull fails", build_fallback=True)
        return ImageAction(Kind.PULL, source)
    if present:
        return None
    if has_build and not can_build:
        if has_image and policy == "missing":  # compose still pulls it; failing, there is no image
            return ImageAction(Kind.PULL, "image not present (--no-build)")
        raise NotFoundError(f"services.{service}: image {ref} is not present and --no-build forbids building it")
    if policy == "never" and not has_build:
        raise NotFoundError(f"services.{service}: image {ref} is not present and {source} forbids pulling it")
    if has_build and has_image and policy == "missing":
        return ImageAction(Kind.PULL, "image not present; built if the pull fails", build_fallback=True)
    if has_build:
        return ImageAction(Kind.BUILD, "image not present")
    return ImageAction(Kind.PULL, "image not present")


def plan_images(desired: Mapping[str, Any], observed: Snapshot, options: UpOptions = UpOptions()) -> Plan:
    """Only the pulls and builds `up` needs (its first step)."""
    reconciler = _Up(desired, observed, options)
    reconciler.plan_images()
    return reconciler.plan


# ---------------------------------------------------------------------------
# up


@dataclass
class _Verdict:
    """What happens to one service's containers (decided before any op is added)."""

    keep: list[tuple[ObservedContainer, str | None]] = field(default_factory=list)  # (container, recreate reason)
    remove: list[tuple[ObservedContainer, str]] = field(default_factory=list)
    new_numbers: list[int] = field(default_factory=list)

    @property
    def recreates(self) -> bool:
        return any(reason for _, reason in self.keep)

    def numbers(self) -> list[int]:
        return sorted({c.number for c, _ in self.keep} | set(self.new_numbers))


class _Up:
    def __init__(self, desired: Mapping[str, Any], observed: Snapshot, options: UpOptions):
        if options.force_recreate and options.no_recreate:
            raise UserError("--force-recreate and --no-recreate cannot be used together")
        if options.renew_anon_volumes and options.no_recreate:
            raise UserError("--renew-anon-volumes and --no-recreate cannot be used together")
        if options.pull not in PULL_CHOICES:
            raise UserError(f"--pull {options.pull!r}: expected one of {', '.join(PULL_CHOICES)}")
        if options.build and options.no_build:
            raise UserError("--build and --no-build cannot be used together")
        self.desired = desired
        self.project = str(desired.get("name") or observed.project)
        self.services: Mapping[str, Any] = desired.get("services") or {}
        self.observed = observed
        self.options = options
        unknown_scale = sorted(set(options.scale) - set(self.services))
        if unknown_scale:
            raise NotFoundError("--scale: no such service: " + ", ".join(unknown_scale))
        self.scope = selection_closure(self.services, options.services, options.no_deps)
        self.order = [s for s in dependency_order(self.services) if s in self.scope]
        # services whose networks, volumes and images the plan provides (`run` adds its own)
        self.infra_services = list(self.order)
        self.plan = Plan(self.project)
        self.network_ops: dict[str, int] = {}
        self.volume_ops: dict[str, int] = {}
        self.image_ops: dict[str, int] = {}
        self.verdicts: dict[str, _Verdict] = {}
        self.started: dict[str, list[int]] = {}       # service -> its START/UNPAUSE ops
        self.materialized: dict[str, list[int]] = {}  # service -> its CREATE ops
        self.wait_ops: dict[tuple[str, str], int] = {}
        self.restart_stops: dict[str, dict[str, tuple[int, str]]] = {}  # service -> container id -> (STOP op, parent)

    # -- helpers --------------------------------------------------------------

    def config(self, service: str) -> Mapping[str, Any]:
        return self.services.get(service) or {}

    def scale(self, service: str) -> int:
        scale = naming.service_scale(self.config(service), self.options.scale.get(service))
        if scale < 0:
            raise UserError(f"services.{service}: scale must not be negative")
        if scale > MAX_REPLICAS:  # each is a container with its own address: a plan of millions is a typo
            raise UserError(f"services.{service}: {scale} replicas is more than stackup runs of one "
                            f"service (at most {MAX_REPLICAS})")
        if scale > 1 and self.config(service).get("container_name"):
            raise UserError(f"services.{service}: container_name {self.config(service)['container_name']!r} "
                            f"is unique and cannot be used with {scale} replicas")
        return scale

    def strategy(self, service: str) -> str:
        if self.options.no_recreate:
            return RECREATE_NEVER
        if self.force_flag(service):
            return RECREATE_FORCE
        return RECREATE_DIVERGED

    def force_flag(self, service: str) -> str | None:
        """The flag that forces this service's recreate, if any. As compose: -V forces
        the selected services (their anonymous volumes must be renewed), not their
        dependencies."""
        if not self.options.services or service in self.options.services:
            if self.options.force_recreate:
                return "--force-recreate"
            return "--renew-anon-volumes" if self.options.renew_anon_volumes else None
        return "--force-recreate" if self.options.always_recreate_deps else None

    def name_of(self, service: str, number: int) -> str:
        return naming.container_name(self.project, service, number, self.config(service))

    def image_ref(self, service: str) -> str:
        return naming.service_image(self.project, service, self.config(service))

    # -- networks and volumes -------------------------------------------------

    def used_networks(self) -> list[str]:
        keys: set[str] = set()
        for service in self.infra_services:
            if self.scale(service) == 0 and service in self.scope:
                continue
            keys.update((self.config(service).get("networks") or {}).keys())
        declared = self.desired.get("networks") or {}  # host and none are no networks to make
        return sorted(k for k in keys if not naming.predefined_network_mode(declared.get(k)))

    def used_volumes(self) -> list[str]:
        declared = self.desired.get("volumes") or {}
        keys = set()
        for service in self.infra_services:
            if self.scale(service) == 0 and service in self.scope:
                continue
            for mount in self.config(service).get("volumes") or []:
                if isinstance(mount, Mapping) and mount.get("type") == "volume" and mount.get("source") in declared:
                    keys.add(mount["source"])
        return sorted(keys)

    def plan_networks(self) -> None:
        declared = self.desired.get("networks") or {}
        for key in self.used_networks():
            config = declared.get(key) or {}
            name = naming.network_name(self.project, key, config)
            if self.observed.network(key, name) is not None:
                continue
            if config.get("external"):
                raise NotFoundError(f"network {name} declared as external, but could not be found")
            request = NetworkRequest(self.project, key, name, config,
                                     naming.network_labels(self.project, key, config))
            self.network_ops[key] = self.plan.add(Kind.CREATE_NETWORK, name, "not found", request=request).id

    def plan_volumes(self) -> None:
        declared = self.desired.get("volumes") or {}
        for key in self.used_volumes():
            config = declared.get(key) or {}
            name = naming.volume_name(self.project, key, config)
            if self.observed.volume(key, name) is not None:
                continue
            if config.get("external"):
                raise NotFoundError(f"external volume {name} not found")
            request = VolumeRequest(self.project, key, name, config,
                                    naming.volume_labels(self.project, key, config))
            self.volume_ops[key] = self.plan.add(Kind.CREATE_VOLUME, name, "not found", request=request).id

    def plan_images(self) -> None:
        if self.options.images_resolved:
            return
        for service in self.infra_services:
            if self.scale(service) == 0 and service in self.scope:
                continue
            self.image_op(service)

    def image_op(self, service: str, visiting: tuple[str, ...] = ()) -> int | None:
        """The op that provides the service's image (None: it is there), planned after
        the image ops of the services its build takes as `service:` contexts."""
        if service in visiting:
            cycle = " -> ".join(visiting[visiting.index(service):] + (service,))
            raise UserError(f"services.{service}.build.additional_contexts: the services' builds need each "
                            f"other ({cycle})")
        ref = self.image_ref(service)
        if ref in self.image_ops:
            return self.image_ops[ref]
        action = _image_action(self.project, service, self.config(service), self.observed, self.options)
        if action is None:
            return None
        request = None
        deps: list[int | None] = []
        if action.kind is Kind.BUILD or action.build_fallback:
            spec = self.build_spec(service)
            self.plan.warnings.extend(w for w in spec.warnings if w not in self.plan.warnings)
            deps = [self.image_op(dep, visiting + (service,)) for dep in spec.depends_on]
            request = BuildRequest(service, ref, self.config(service).get("build") or {}, spec)
        op = self.plan.add(action.kind, ref, action.reason, deps, service=service, request=request,
                           best_effort=action.best_effort)
        self.image_ops[ref] = op.id
        return op.id

    def build_spec(self, service: str) -> ServiceBuild:
        return service_build(self.project, service, self.config(service), services=self.services,
                             secrets=self.desired.get("secrets") or {},
                             project_dir=self.options.working_dir or ".")

    def infrastructure(self, service: str) -> list[int]:
        """The ops a service's containers need done before they are created."""
        config = self.config(service)
        deps = [self.network_ops.get(k) for k in sorted(config.get("networks") or {})]
        for mount in config.get("volumes") or []:
            if isinstance(mount, Mapping) and mount.get("type") == "volume":
                deps.append(self.volume_ops.get(str(mount.get("source"))))
        deps.append(self.image_ops.get(self.image_ref(service)))
        return [d for d in deps if d is not None]

    # -- decisions ------------------------------------------------------------

    def recreate_reason(self, service: str, container: ObservedContainer, expected_hash: str,
                        image_id: str | None, strategy: str) -> str | None:
        if strategy == RECREATE_NEVER:
            return None
        if strategy == RECREATE_FORCE:
            return f"forced ({self.force_flag(service)})"
        for parent in _shared_namespace_parents(self.config(service)):
            verdict = self.verdicts.get(parent)
            if verdict is not None and verdict.recreates:
                return f"shares {parent}'s container, which is recreated"
        if container.config_hash != expected_hash:
            return "config changed"
        if image_id and container.image_label and container.image_label != image_id:
            return "image changed"
        return None

    def decide(self, service: str) -> _Verdict:
        expected = self.scale(service)
        strategy = self.strategy(service)
        expected_hash = naming.config_hash(self.config(service))
        image_id = self.observed.image(self.image_ref(service))
        containers = self.observed.service_containers(service)
        reasons = {c.id: self.recreate_reason(service, c, expected_hash, image_id, strategy) for c in containers}
        # Up-to-date before obsolete, low numbers first: the tail is what scale-down removes.
        ranked = sorted(containers, key=lambda c: (reasons[c.id] is not None, c.number, c.created, c.id))
        verdict = _Verdict()
        kept_numbers: set[int] = set()
        for container in ranked:
            if container.number in kept_numbers:
                # e.g. the old container of a recreate interrupted by a crash
                verdict.remove.append((container, f"duplicate of number {container.number}"))
            elif len(verdict.keep) < expected:
                verdict.keep.append((container, reasons[container.id]))
                kept_numbers.add(container.number)
            else:
                verdict.remove.append((container, "scale down"))
        verdict.keep.sort(key=lambda item: item[0].number)
        verdict.remove.sort(key=lambda item: (-item[0].number, item[0].name))
        next_number = max((c.number for c in containers), default=0) + 1
        verdict.new_numbers = list(range(next_number, next_number + expected - len(verdict.keep)))
        return verdict

    # -- dependency gates -----------------------------------------------------

    def gates(self, service: str) -> list[int]:
        """The ops that must be done before this service's containers are created
        or started: its dependencies' starts, or the WAIT ops for their conditions."""
        gates: list[int] = []
        for dep, spec in sorted((self.config(service).get("depends_on") or {}).items()):
            if dep not in self.scope or dep not in self.services or self.scale(dep) == 0:
                continue
            if self.options.no_start:
                gates += self.materialized.get(dep, [])
                continue
            condition = (spec or {}).get("condition", "service_started")
            if condition == "service_started":
                gates += self.started.get(dep, [])
            elif condition in ("service_healthy", "service_completed_successfully"):
                wanted = HEALTHY if condition == "service_healthy" else COMPLETED
                gates.append(self.wait_op(dep, wanted, service, required=(spec or {}).get("required", True)))
            else:
                raise UserError(f"services.{service}.depends_on.{dep}.condition: unknown condition {condition!r}")
        return gates

    def wait_op(self, dep: str, condition: str, dependent: str, required: bool) -> int:
        """One WAIT per (dependency, condition), shared by all dependents. It is best
        effort (a failure only warns) while every dependent says `required: false`."""
        key = (dep, condition)
        if key not in self.wait_ops:
            targets = tuple(self.name_of(dep, n) for n in self.verdicts[dep].numbers())
            op = self.plan.add(Kind.WAIT, dep, f"{dependent} depends on it", self.started.get(dep, []),
                               service=dep, condition=condition, targets=targets,
                               timeout=self.options.wait_timeout, best_effort=not required)
            self.wait_ops[key] = op.id
        elif required:
            self.plan.get(self.wait_ops[key]).best_effort = False
        return self.wait_ops[key]

    # -- containers -----------------------------------------------------------

    def request(self, service: str, number: int) -> ContainerRequest:
        config = self.config(service)
        labels = naming.container_labels(
            self.project, service, number, config, config_hash=naming.config_hash(config),
            config_files=self.options.config_files, working_dir=self.options.working_dir)
        return ContainerRequest(self.project, service, number, self.name_of(service, number),
                                self.image_ref(service), config, labels)

    def stop_restart_dependents(self, service: str) -> list[int]:
        """Stop the running containers of services that depend on `service` with
        `restart: true` (and are not recreated themselves) before it is recreated."""
        if self.options.no_start:
            return []
        stops = []
        for other in self.order:
            spec = (self.config(other).get("depends_on") or {}).get(service)
            if not spec or not spec.get("restart") or other not in self.verdicts:
                continue
            for container, reason in self.verdicts[other].keep:
                if reason or not container.running or container.id in self.restart_stops.get(other, {}):
                    continue
                op = self.plan.add(Kind.STOP, container.name, f"dependency {service} is recreated",
                                   service=other, number=container.number, container=container.id,
                                   timeout=self.options.timeout)
                self.restart_stops.setdefault(other, {})[container.id] = (op.id, service)
                stops.append(op.id)
        return stops

    def plan_service(self, service: str) -> None:
        verdict = self.verdicts[service]
        timeout = self.options.timeout
        for container, why in verdict.remove:
            stop = None
            if container.running:
                stop = self.plan.add(Kind.STOP, container.name, why, service=service,
                                     number=container.number, container=container.id, timeout=timeout).id
            self.plan.add(Kind.REMOVE, container.name, why, [stop], service=service,
                          number=container.number, container=container.id)
        gates: list[int] | None = None
        pre_stops: list[int] | None = None

        def gated() -> list[int]:
            nonlocal gates
            if gates is None:
                gates = self.gates(service)
            return gates

        for container, reason in verdict.keep:
            if reason:
                if pre_stops is None:
                    pre_stops = self.stop_restart_dependents(service)
                self.plan_recreate(service, container, reason, self.infrastructure(service) + gated() + pre_stops)
            elif container.id in self.restart_stops.get(service, {}):
                stop, parent = self.restart_stops[service][container.id]
                op = self.plan.add(Kind.START, container.name, f"restart after {parent} was recreated",
                                   gated() + [stop], service=service, number=container.number,
                                   container=container.id)
                self.started.setdefault(service, []).append(op.id)
            elif self.options.no_start:
                continue
            elif container.status.can_unpause():
                op = self.plan.add(Kind.UNPAUSE, container.name, "paused", gated(), service=service,
                                   number=container.number, container=container.id)
                self.started.setdefault(service, []).append(op.id)
            elif not container.running:
                why = "exited" if container.status is Status.EXITED else "not running"
                op = self.plan.add(Kind.START, container.name, why, self.infrastructure(service) + gated(),
                                   service=service, number=container.number, container=container.id)
                self.started.setdefault(service, []).append(op.id)
        for number in verdict.new_numbers:
            request = self.request(service, number)
            create = self.plan.add(Kind.CREATE, request.name, "no existing container",
                                   self.infrastructure(service) + gated(), service=service,
                                   number=number, request=request)
            self.materialized.setdefault(service, []).append(create.id)
            if not self.options.no_start:
                start = self.plan.add(Kind.START, request.name, "created", [create.id], service=service,
                                      number=number, created_by=create.id)
                self.started.setdefault(service, []).append(start.id)

    def plan_recreate(self, service: str, old: ObservedContainer, reason: str, deps: list[int]) -> None:
        """stop old -> rename old aside -> create new -> start new -> remove old."""
        number = old.number
        request = self.request(service, number)
        volumes, create_reason, remove_note = self.anonymous_volumes(service, old)
        if volumes:
            request = replace(request, anonymous_volumes=volumes)
        last = None
        if old.running:
            last = self.plan.add(Kind.STOP, old.name, reason, deps, service=service, number=number,
                                 container=old.id, timeout=self.options.timeout).id
        aside = old.name
        if old.name == request.name:
            aside = naming.moved_aside_name(old.id, old.name)
            last = self.plan.add(Kind.RENAME, old.name, "make way for its replacement",
                                 [last] if last else deps, service=service, number=number,
                                 container=old.id, new_name=aside).id
        # else: already out of the way (a recreate interrupted after the rename)
        create = self.plan.add(Kind.CREATE, request.name, reason + create_reason, [last] if last else deps,
                               service=service, number=number, request=request)
        self.materialized.setdefault(service, []).append(create.id)
        after = create.id
        if not self.options.no_start:
            start = self.plan.add(Kind.START, request.name, "recreated", [create.id], service=service,
                                  number=number, created_by=create.id)
            self.started.setdefault(service, []).append(start.id)
            after = start.id
        self.plan.add(Kind.REMOVE, aside, f"replaced by #{create.id}" + remove_note, [after], service=service,
                      number=number, container=old.id)

    def anonymous_volumes(self, service: str, old: ObservedContainer) -> tuple[dict[str, str], str, str]:
        """What a recreate does with the old container's anonymous volumes: the ones
        the new container takes over (path -> volume), and the notes for the plan's
        CREATE and REMOVE lines. The old container is removed without its volumes
        (as compose); those the new one does not take stay, labelled with the
        project, until `down -v`."""
        old_mounts = anonymous.mounts_of(old.labels)
        if not old_mounts:
            return {}, "", ""
        targets = anonymous.targets(self.config(service), self.observed.volumes_of_image(self.image_ref(service)))
        taken = {} if self.options.renew_anon_volumes else anonymous.inherited(old.labels, targets)
        create_note = ""
        if taken:
            create_note = "; keeps anonymous volumes " + ", ".join(sorted(taken))
        elif self.options.renew_anon_volumes and set(targets) & set(old_mounts):
            create_note = "; fresh anonymous volumes " + ", ".join(sorted(set(targets) & set(old_mounts)))
        left = sorted(set(old_mounts) - set(taken))
        remove_note = ""
        if left:
            remove_note = f"; leaves its anonymous volumes {', '.join(left)} (down -v removes them)"
        return taken, create_note, remove_note

    # -- orphans and --wait ---------------------------------------------------

    def plan_orphans(self) -> None:
        known = set(self.services) | set(self.options.disabled_services)
        orphans = self.observed.orphans(known)
        if not orphans:
            return
        if not self.options.remove_orphans:
            names = ", ".join(c.name for c in orphans)
            self.plan.warnings.append(
                f"found orphan containers ({names}) for this project; if you removed or renamed a service "
                "in the stack file, run this command with --remove-orphans to clean them up")
            return
        for container in orphans:
            reason = "exited one-off container" if container.oneoff else f"orphan: service {container.service} is not in the stack"
            stop = None
            if container.running:
                stop = self.plan.add(Kind.STOP, container.name, reason, service=container.service,
                                     container=container.id, timeout=self.options.timeout).id
            self.plan.add(Kind.REMOVE, container.name, reason, [stop], service=container.service,
                          container=container.id)

    def plan_wait(self) -> None:
        if not self.options.wait or self.options.no_start:
            return
        for service in self.order:
            numbers = self.verdicts[service].numbers()
            if not numbers:
                continue
            # after the service_healthy wait of the same containers, if there is one:
            # two waits probing at once would count each failure twice
            healthy = self.wait_ops.get((service, HEALTHY))
            self.plan.add(Kind.WAIT, service, "--wait", self.started.get(service, []) + [healthy], service=service,
                          condition=READY, targets=tuple(self.name_of(service, n) for n in numbers),
                          timeout=self.options.wait_timeout)

    def run(self) -> Plan:
        self.plan_networks()
        self.plan_volumes()
        self.plan_images()
        for service in self.order:
            self.verdicts[service] = self.decide(service)
        for service in self.order:
            self.plan_service(service)
        self.plan_orphans()
        self.plan_wait()
        return self.plan


def reconcile(desired: Mapping[str, Any], observed: Snapshot, options: UpOptions = UpOptions()) -> Plan:
    """The plan that brings the project from `observed` to the stack `desired`
    (a normalized stack dict, as `Project.to_dict()` gives it)."""
    return _Up(desired, observed, options).run()


# ---------------------------------------------------------------------------
# run


@dataclass(frozen=True)
class RunOptions:
    """`run`'s flags, as plan_run uses them."""

    token: str                              # naming.new_oneoff_token(): makes the name unique
    no_deps: bool = False
    overrides: Mapping[str, Any] = field(default_factory=dict)  # normalized attributes replacing the service's
    service_ports: bool = False             # publish the service's ports (compose: only with --service-ports)
    start: bool = True                      # False: the caller starts it (e.g. after attaching)
    pull: str = "policy"
    build: bool = False                     # --build
    config_files: tuple[str, ...] = ()
    working_dir: str | None = None


def oneoff_config(config: Mapping[str, Any], options: RunOptions) -> dict[str, Any]:
    """The service config a one-off container runs: the overrides win; no ports
    unless asked; no restart policy (a one-off runs once, as compose runs it)."""
    result = {k: v for k, v in config.items() if k not in ("restart", "container_name")}
    if not options.service_ports:
        result.pop("ports", None)
    result.update(options.overrides)
    return result


def plan_run(desired: Mapping[str, Any], observed: Snapshot, service: str, options: RunOptions) -> Plan:
    """`run SERVICE`: bring up what the service depends on (unless `--no-deps`), as
    `up` would, then create (and start) one one-off container of the service."""
    services = desired.get("services") or {}
    if service not in services:
        raise NotFoundError(f"no such service: {service}")
    deps = [] if options.no_deps else _dependencies(services, service)
    up = _Up(desired, observed, UpOptions(services=tuple(deps), pull=options.pull, build=options.build,
                                          config_files=options.config_files, working_dir=options.working_dir))
    if not deps:
        up.scope, up.order = set(), []
    up.infra_services = up.order + [service]
    up.plan_networks()
    up.plan_volumes()
    up.plan_images()
    for name in up.order:
        up.verdicts[name] = up.decide(name)
    for name in up.order:
        up.plan_service(name)
    config = oneoff_config(up.config(service), options)
    name = naming.oneoff_name(up.project, service, options.token)
    labels = naming.container_labels(up.project, service, 1, config, config_hash=naming.config_hash(config),
                                     oneoff=True, config_files=options.config_files,
                                     working_dir=options.working_dir)
    request = ContainerRequest(up.project, service, 1, name, up.image_ref(service), config, labels)
    create = up.plan.add(Kind.CREATE, name, "one-off container", up.infrastructure(service) + up.gates(service),
                         service=service, number=1, request=request)
    if options.start:
        up.plan.add(Kind.START, name, "one-off container", [create.id], service=service, number=1,
                    created_by=create.id)
    return up.plan


# ---------------------------------------------------------------------------
# down


def _stop_dependencies(containers: Iterable[ObservedContainer],
                       desired: Mapping[str, Any] | None) -> dict[str, set[str]]:
    """service -> the services it depends on, from the stack if given, else from
    the containers' labels (so `down` works without the file)."""
    graph: dict[str, set[str]] = {}
    if desired:
        for name, config in (desired.get("services") or {}).items():
            graph[name] = set(((config or {}).get("depends_on") or {}).keys())
    for container in containers:
        graph.setdefault(container.service, set()).update(container.depends_on)
    return graph


def stop_and_remove(plan: Plan, containers: Iterable[ObservedContainer], desired: Mapping[str, Any] | None, *,
                    timeout: float | None, reason: str, remove: bool, volumes: bool = False) -> list[int]:
    """Add STOP ops for the running `containers` in reverse dependency order (a service
    is stopped after every service that depends on it), and with `remove` a REMOVE
    for each after its stop. Returns the ids of the REMOVE ops (of the STOPs without
    `remove`)."""
    containers = list(containers)
    graph = _stop_dependencies(containers, desired)
    dependents: dict[str, set[str]] = {s: set() for s in graph}
    for service, deps in graph.items():
        for dep in deps:
            dependents.setdefault(dep, set()).add(service)
    by_service: dict[str, list[ObservedContainer]] = {}
    for container in containers:
        by_service.setdefault(container.service, []).append(container)
    # A service with nothing to stop passes its dependents' stops on.
    order = list(reversed(dependency_order({s: {"depends_on": {d: {} for d in deps}} for s, deps in graph.items()})))
    stop_gate: dict[str, list[int]] = {}
    result: list[int] = []
    for service in order:
        after = sorted({op for d in dependents.get(service, ()) for op in stop_gate.get(d, [])})
        stops: list[int] = []
        for container in sorted(by_service.get(service, []), key=lambda c: (c.oneoff, c.number, c.name)):
            stop = None
            if container.running:
                stop = plan.add(Kind.STOP, container.name, reason, after, service=service,
                                number=container.number, container=container.id, timeout=timeout).id
                stops.append(stop)
                if not remove:
                    result.append(stop)
            if remove:
                result.append(plan.add(Kind.REMOVE, container.name, reason, [stop],
                                       service=service, number=container.number, container=container.id,
                                       volumes=volumes).id)
        stop_gate[service] = stops or after
    return result


def plan_down(observed: Snapshot, options: DownOptions = DownOptions(),
              desired: Mapping[str, Any] | None = None) -> Plan:
    """Stop (dependents first) and remove the project's containers, then remove its
    networks, with `-v` its volumes, with `--rmi` its images.

    With `desired` (the stack, when a file was found), containers of services it
    lacks are orphans: removed with `--remove-orphans`, else a warning.
    """
    if options.rmi is not None and options.rmi not in RMI_CHOICES:
        raise UserError(f"--rmi {options.rmi!r}: expected one of {', '.join(RMI_CHOICES)}")
    plan = Plan(observed.project)
    containers = list(observed.containers)
    if desired is not None:
        known = set(desired.get("services") or {}) | set(options.disabled_services)
        orphans = {c.id for c in containers if not c.oneoff and c.service not in known}
        if orphans and not options.remove_orphans:
            names = ", ".join(sorted(c.name for c in containers if c.id in orphans))
            plan.warnings.append(f"found orphan containers ({names}) for this project; "
                                 "run this command with --remove-orphans to remove them too")
            containers = [c for c in containers if c.id not in orphans]
    removes = stop_and_remove(plan, containers, desired, timeout=options.timeout, reason="down",
                              remove=True, volumes=options.volumes)
    for network in sorted(observed.networks, key=lambda n: n.name):
        if network.project == observed.project and network.key:
            plan.add(Kind.REMOVE_NETWORK, network.name, "down", removes)
    if options.volumes:
        for volume in sorted(observed.volumes, key=lambda v: v.name):
            if volume.project == observed.project and volume.key:
                plan.add(Kind.REMOVE_VOLUME, volume.name, "down -v", removes)
    for ref in _images_to_remove(observed, options, desired, containers):
        plan.add(Kind.REMOVE_IMAGE, ref, f"--rmi {options.rmi}", removes, best_effort=True)
    return plan


def _images_to_remove(observed: Snapshot, options: DownOptions, desired: Mapping[str, Any] | None,
                      containers: list[ObservedContainer]) -> list[str]:
    if options.rmi is None:
        return []
    refs: set[str] = set()
    if desired is not None:
        for name, config in (desired.get("services") or {}).items():
            config = config or {}
            # local: only the images stackup named itself (built, no `image:`).
            if options.rmi == "all" or not config.get("image"):
                refs.add(naming.service_image(observed.project, name, config))
    elif options.rmi == "all":
        refs.update(c.image_label for c in containers if c.image_label)
    return sorted(refs)
