"""`exec SERVICE CMD...`: a command in a running container of a service, on the
caller's terminal, or left running in the background (`detach`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stackup.errors import ConflictError, NotFoundError
from stackup.project.engine_adapter import Engine
from stackup.project.session import Session


@dataclass(frozen=True)
class ExecOptions:
    """`exec`'s flags, parsed."""

    service: str
    command: Sequence[str]
    index: int = 1                    # which container of the service
    detach: bool = False              # no terminal, no stdin, output discarded; return at once
    tty: bool = False
    interactive: bool = True
    env: Sequence[str] = ()           # KEY=VALUE, or KEY: its value here, if set
    user: str | None = None
    workdir: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))   # where KEY is looked up


def environment(items: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """KEY=VALUE items as given; a bare KEY takes its value from `environ` (dropped
    when it has none there), as compose does."""
    result = []
    for item in items:
        if "=" in item:
            result.append(item)
        elif item in environ:
            result.append(f"{item}={environ[item]}")
    return result


def exec_(session: Session, options: ExecOptions) -> int:
    """The command's exit code (0 once a detached one has started). A command that
    cannot start raises StartFailed."""
    states = [s for s in session.containers([options.service])
              if Engine.observed(s).number == options.index]
    if not states:
        raise NotFoundError(f"service {options.service}: no container with index {options.index}")
    state = states[0]
    if not state.status.can_exec():
        raise ConflictError(f"service {options.service}: container {state.name} is {state.status}, "
                            "not running")
    env = environment(options.env, options.environ)
    if options.detach:
        session.engine.exec_detached(state.id, list(options.command), env, options.user, options.workdir)
        return 0
    return session.engine.exec_in(state.id, list(options.command), env, options.user, options.workdir,
                                  tty=options.tty, interactive=options.interactive)
