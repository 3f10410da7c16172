"""The data the builder's parts hand each other: stored layers, a RUN step, build options, events.

Plain dataclasses so the parts (Dockerfile parser, context, snapshots and layers, the RUN
executor, the orchestrator) can be written and tested apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LayerRef:
    """A layer in the image store: its blob (compressed tar), its diff_id and chain id."""

    diff_id: str
    blob: str
    size: int  # of the blob
    media_type: str
    chain_id: str


@dataclass(frozen=True)
class RunMount:
    """A mount of a RUN step, resolved by the orchestrator to what the runtime mounts:
    `bind` (a host path: a cache mount's folder, a context or stage folder, a secret's
    file) or `tmpfs`."""

    type: str  # bind | tmpfs
    target: str
    source: str = ""
    read_only: bool = False
    size: int = 0  # tmpfs


@dataclass
class RunStep:
    """One RUN: the process and the filesystem it runs on."""

    layers: list[Path]  # unpacked lower layer folders, base first
    argv: list[str]
    env: list[str]
    user: str = ""
    workdir: str = "/"
    mounts: list[RunMount] = field(default_factory=list)
    network: str = "default"  # default (NAT to the outside) | none | host
    extra_hosts: list[str] = field(default_factory=list)
    shm_size: int = 0
    label: str = ""  # for error messages and the container's name: "[web 3/7] RUN ..."


@dataclass
class RunResult:
    exit_code: int
    upper: Path  # the step's changes (overlay upper folder); the caller owns and removes it
    tail: list[str]  # the last lines of its output (for the error of a failed step)


@dataclass
class BuildOptions:
    """One image to build (what `docker build` and compose's `build:` say)."""

    context: Path
    dockerfile: Path | None = None  # default: <context>/Dockerfile
    dockerfile_inline: str | None = None
    target: str = ""
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    no_cache: bool = False
    pull: bool = False
    network: str = "default"
    extra_hosts: list[str] = field(default_factory=list)
    shm_size: int = 0
    secrets: dict[str, Path] = field(default_factory=dict)  # id -> file (env secrets written to a temp file by the caller)
    # name -> a folder, or "docker-image://REF" (compose's service:NAME is resolved by the
    # project layer to docker-image://<the built image's id>)
    additional_contexts: dict[str, str] = field(default_factory=dict)
    platform: str = ""  # "" or the native platform
    name: str = ""  # shown in progress lines: "[web 3/7]" (the service), "" for `image build`


@dataclass(frozen=True)
class StepEvent:
    """Progress of one vertex (a step, or an internal one like loading the Dockerfile)."""

    vertex: int  # 1-based, as BuildKit numbers them (#1, #2, ...)
    title: str  # "[web 3/7] RUN pip install -r requirements.txt"
    status: str  # started | cached | done | error
    elapsed: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class StepOutput:
    vertex: int
    text: str  # one line, without the newline
    elapsed: float  # seconds since the step started (BuildKit's plain output prints it)


Progress = Callable[[StepEvent | StepOutput], None]
