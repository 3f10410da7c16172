"""What every compose-level command does first: load the stack, check it can run,
take the project's lock, and open the engine.

`open_session(global_options, need_file=...)` gives a `Session` with the project
name, the normalized stack (or None when a command such as `down -p NAME` runs
without a file), and an `Engine` adapter. `session.locked()` serializes commands on
one project (different projects run side by side).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackup.engine import state as st
from stackup.errors import UserError
from stackup.project.engine_adapter import Engine
from stackup.project.observed import Snapshot, observe
from stackup.spec import support


@dataclass
class Session:
    """One command's view of a project: its name, its loaded stack file (if any) and the engine."""

    name: str
    desired: dict[str, Any] | None
    engine: Engine
    config_files: tuple[str, ...] = ()
    working_dir: str | None = None
    disabled_services: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)

    @property
    def services(self) -> dict[str, Any]:
        return dict((self.desired or {}).get("services") or {})

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with st.locked(st.root() / "projects" / f"{self.name}.lock"):
            yield

    def observe(self, images_too: bool = True) -> Snapshot:
        return observe(self.engine, self.name, self.desired, images_too)

    def check_supported(self, services: Sequence[str] = ()) -> None:
        """Refuse, naming each, the attributes the engine cannot honour (of the given
        services, or all; and of the networks and volumes)."""
        support.check_supported(self.desired or {}, services)

    def check_services(self, services: Sequence[str]) -> None:
        unknown = [s for s in services if s not in self.services]
        if unknown:
            from stackup.errors import NotFoundError

            lines = [f"no such service: {s}" for s in unknown]
            raise NotFoundError(lines[0], problems=lines)


def open_session(options: Any, *, need_file: bool = True) -> Session:
    """Load the stack named by the global options. Without `need_file`, a missing stack
    file is fine when a project name is given (`down -p NAME`, `ps -p NAME`)."""
    from stackup.spec import LoadOptions, load_project

    try:
        project = load_project(LoadOptions.from_global(options))
    except UserError as exc:
        name = getattr(options, "project_name", None)
        if need_file or not name or "no configuration file provided" not in str(exc):
            raise
        return Session(name=name, desired=None, engine=Engine(name))
    for warning in project.warnings:
        print(f"stackup: warning: {warning}", file=sys.stderr)
    desired = project.to_dict()
    return Session(name=project.name, desired=desired, engine=Engine(project.name, desired),
                   config_files=tuple(str(f) for f in project.config_files),
                   working_dir=str(project.working_dir),
                   disabled_services=frozenset(project.disabled_services))
