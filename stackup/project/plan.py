"""The plan: a DAG of operations, each with the reason it is needed.

`reconcile` and `plan_down` build a `Plan`; the executor runs it; `stackup up
--dry-run` prints `Plan.render()`. Operations are numbered in the order they are
added and an operation only ever depends on earlier ones, so the numbering is a
topological order and the rendering is deterministic.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackup.project.build import ServiceBuild


class Kind(str, enum.Enum):
    CREATE_NETWORK = "create-network"
    CREATE_VOLUME = "create-volume"
    PULL = "pull"
    BUILD = "build"
    CREATE = "create"            # a container
    START = "start"
    UNPAUSE = "unpause"
    STOP = "stop"
    RENAME = "rename"
    REMOVE = "remove"            # a container
    WAIT = "wait"                # a condition on a service's containers
    REMOVE_NETWORK = "remove-network"
    REMOVE_VOLUME = "remove-volume"
    REMOVE_IMAGE = "remove-image"


# Conditions a WAIT operation checks, for every container it names.
HEALTHY = "healthy"        # depends_on: service_healthy
COMPLETED = "completed"    # depends_on: service_completed_successfully (exit code 0)
READY = "ready"            # up --wait: healthy if it has a healthcheck, else running


@dataclass(frozen=True)
class ContainerRequest:
    """Everything needed to create one service container.

    `config` is the service's normalized dict; `labels` are stackup's plus the
    service's; the creator adds `naming.IMAGE` (the id of the image it used).
    `anonymous_volumes` (container path -> volume name): existing anonymous volumes
    the container mounts at those paths instead of fresh ones (a recreate hands on
    the old container's, see `stackup.project.anonymous`).
    """

    project: str
    service: str
    number: int
    name: str
    image: str
    config: Mapping[str, Any]
    labels: Mapping[str, str]
    anonymous_volumes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkRequest:
    """Everything needed to create one project network."""

    project: str
    key: str
    name: str
    config: Mapping[str, Any]
    labels: Mapping[str, str]


@dataclass(frozen=True)
class VolumeRequest:
    """Everything needed to create one project volume."""

    project: str
    key: str
    name: str
    config: Mapping[str, Any]
    labels: Mapping[str, str]


@dataclass(frozen=True)
class BuildRequest:
    """An image to build for a service (its `build:` section), and that section mapped
    onto the builder's options (`spec`, see `stackup.project.build`)."""

    service: str
    image: str
    build: Mapping[str, Any]
    spec: ServiceBuild | None = None


@dataclass
class Op:
    """One operation. `subject` names what it acts on: a container, network or
    volume name, an image reference, or (WAIT) the service waited for."""

    id: int
    kind: Kind
    subject: str
    reason: str
    deps: tuple[int, ...] = ()
    service: str | None = None
    number: int | None = None
    container: str | None = None      # id of an existing container acted on
    created_by: int | None = None     # else: the CREATE op whose result is the container
    new_name: str | None = None       # RENAME
    condition: str | None = None      # WAIT
    targets: tuple[str, ...] = ()     # WAIT: names of the containers to check
    timeout: float | None = None      # STOP grace period, WAIT limit
    volumes: bool = False             # REMOVE: also the container's anonymous volumes
    best_effort: bool = False         # a failure is reported but does not stop the plan
    request: Any = None               # CREATE / CREATE_NETWORK / CREATE_VOLUME / BUILD (a PULL's
                                      # BuildRequest: built when the pull fails)

    def describe(self) -> str:
        """`create webdemo-web-1`, `rename webdemo-web-1 -> 1a2b_webdemo-web-1`, ..."""
        if self.kind is Kind.RENAME:
            return f"rename {self.subject} -> {self.new_name}"
        if self.kind is Kind.WAIT:
            return f"wait {self.condition} {self.subject} ({', '.join(self.targets)})"
        return f"{self.kind.value} {self.subject}"

    def line(self) -> str:
        text = f"#{self.id} {self.describe()}: {self.reason}"
        if self.timeout is not None:
            text += f" (timeout {self.timeout:g}s)"
        if self.best_effort:
            text += " (best effort)"
        if self.deps:
            text += " [after " + " ".join(f"#{d}" for d in self.deps) + "]"
        return text


@dataclass
class Plan:
    """The operations of one command on one project, in a topological order, plus warnings."""

    project: str
    ops: list[Op] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, kind: Kind, subject: str, reason: str, deps: Iterable[int | None] = (), **fields: Any) -> Op:
        op_id = len(self.ops) + 1
        clean = tuple(sorted({d for d in deps if d is not None}))
        for dep in clean:
            if not 1 <= dep < op_id:
                raise ValueError(f"operation #{op_id} cannot depend on #{dep}")
        op = Op(id=op_id, kind=kind, subject=subject, reason=reason, deps=clean, **fields)
        self.ops.append(op)
        return op

    def get(self, op_id: int) -> Op:
        return self.ops[op_id - 1]

    def is_empty(self) -> bool:
        return not self.ops

    def of_kind(self, *kinds: Kind) -> list[Op]:
        return [op for op in self.ops if op.kind in kinds]

    def render(self) -> str:
        """Deterministic text: warnings, then one line per operation in id order.
        An empty plan with no warnings renders as the empty string."""
        lines = [f"warning: {w}" for w in self.warnings]
        lines += [op.line() for op in self.ops]
        return "".join(line + "\n" for line in lines)
