"""What a compose operation tells its caller while it runs.

The operations (`project.up`, `down`, `run`, `logs`, ...) report through one
callback, `on_event(event)`, and print nothing: the CLI renders each event (the
progress lines, the prefixed log lines, the warnings) and a library caller may
ignore them. Events may come from several threads at once.

The executor's per-operation progress is `progress.Event` (one line per resource);
the rest are here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from stackup.project.progress import Event as Progress

if TYPE_CHECKING:
    from stackup.engine.build.model import StepEvent, StepOutput


@dataclass(frozen=True)
class PlanWarning:
    """Something the plan does not do as asked (e.g. a service that cannot scale)."""

    text: str


@dataclass(frozen=True)
class Repaired:
    """Something found broken and put right before the plan (e.g. a helper restarted)."""

    text: str


@dataclass(frozen=True)
class PlanStarted:
    """A non-empty plan is about to run: its `Progress` events follow."""


@dataclass(frozen=True)
class PlanFinished:
    """The plan has run (whether or not it succeeded): no more `Progress` for it."""


@dataclass(frozen=True)
class PlanPreview:
    """A dry run: the plan as text, one operation a line (or why there is none)."""

    text: str


@dataclass(frozen=True)
class LogSources:
    """The containers whose output follows, as `LogLine`s (e.g. for aligning prefixes)."""

    containers: tuple[str, ...]


@dataclass(frozen=True)
class Attaching:
    """`up` in the foreground: it follows these containers until they exit."""

    containers: tuple[str, ...]


@dataclass(frozen=True)
class LogLine:
    """One line a container wrote."""

    container: str
    text: str
    time: str = ""        # RFC 3339, when the line was written
    stream: str = "stdout"


@dataclass(frozen=True)
class ContainerExited:
    """A followed container has exited."""

    container: str
    exit_code: int | None


@dataclass(frozen=True)
class Stopping:
    """An interrupt stops the stack gracefully; a second one kills it."""


@dataclass(frozen=True)
class ContainerChanged:
    """`pause`, `unpause`, `kill`: one container is done ("Paused", "Unpaused", "Killed")."""

    container: str
    status: str


@dataclass(frozen=True)
class Waited:
    """`wait`: one container has exited."""

    container: str
    exit_code: int


@dataclass(frozen=True)
class ImageChanged:
    """`pull`, `push`: one image is "Pulling", "Pulled", "Pushing", "Pushed"."""

    reference: str
    status: str


@dataclass(frozen=True)
class BuildProgress:
    """A step of an image build began, wrote a line, or ended (the builder's event)."""

    image: str              # the image being built: one build among several at once
    service: str            # "" for a build of no service
    event: StepEvent | StepOutput


@dataclass(frozen=True)
class WatchNote:
    """`watch`: what it does about the changes it saw ("Syncing service 'web' ...")."""

    text: str


OperationEvent = Union[Progress, PlanWarning, Repaired, PlanStarted, PlanFinished, PlanPreview, LogSources,
                       Attaching, LogLine, ContainerExited, Stopping, ContainerChanged, Waited,
                       ImageChanged, BuildProgress, WatchNote]
OnEvent = Callable[[OperationEvent], None]


def ignore(_event: OperationEvent) -> None:
    """An `on_event` for callers that want none."""
