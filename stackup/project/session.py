"""What every compose-level command does first: load the stack, check it can run,
take the project's lock, and open the engine.

`open_session(load_options, need_file=...)` gives a `Session` with the project
name, the normalized stack (or None when a command such as `down -p NAME` runs
without a file), the loader's warnings, and an `Engine` adapter. `session.locked()`
serializes commands on one project (different projects run side by side).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackup.project import naming
from stackup.engine.runtime.containerstate import ContainerState
from stackup.project.engine_adapter import Engine
from stackup.project.observed import Snapshot, observe
from stackup.stackfile import support

if TYPE_CHECKING:
    from stackup.stackfile import LoadOptions


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
    environment: dict[str, str] = field(default_factory=dict)   # the stack's (os.environ and .env)

    @property
    def services(self) -> dict[str, Any]:
        return dict((self.desired or {}).get("services") or {})

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self.engine.project_lock(self.name):
            yield

    def observe(self, images_too: bool = True) -> Snapshot:
        return observe(self.engine, self.name, self.desired, images_too)

    def check_supported(self, services: Sequence[str] = ()) -> None:
        """Refuse, naming each, the attributes the engine cannot honour (of the given
        services, or all; and of the networks and volumes)."""
        support.check_supported(self.desired or {}, services)

    def containers(self, services: Sequence[str] = (), *, oneoff: bool | None = False,
                   running_only: bool = False) -> list[ContainerState]:
        """The engine's records of the project's containers (of `services` if given),
        sorted by service then number. `oneoff`: False (service containers), True,
        None (both)."""
        if services and self.desired is not None:
            self.check_services(services)
        found = []
        for state in self.engine.container_states({naming.PROJECT: self.name}):
            c = Engine.observed(state)
            if services and c.service not in services:
                continue
            if oneoff is not None and c.oneoff != oneoff:
                continue
            if running_only and not c.running:
                continue
            found.append(((c.service, c.oneoff, c.number, state.name), state))
        return [state for _, state in sorted(found, key=lambda item: item[0])]

    def check_services(self, services: Sequence[str]) -> None:
        unknown = [s for s in services if s not in self.services]
        if unknown:
            from stackup.errors import NotFoundError

            lines = [f"no such service: {s}" for s in unknown]
            raise NotFoundError(lines[0], problems=lines)


def open_session(options: LoadOptions, *, need_file: bool = True) -> Session:
    """Load the stack the options name. Without `need_file`, a missing stack file is
    fine when a project name is given (`down -p NAME`, `ps -p NAME`). Raises the
    loader's UserError (NoStackFileError when there is no file at all)."""
    from stackup.stackfile import load_project
    from stackup.stackfile.project import NoStackFileError

    try:
        project = load_project(options)
    except NoStackFileError:
        if need_file or not options.project_name:
            raise
        return Session(name=options.project_name, desired=None, engine=Engine(options.project_name))
    desired = project.to_dict()
    engine = Engine(project.name, desired)
    engine.environment = dict(project.environment)  # for builds: value-less args, environment secrets
    engine.working_dir = str(project.working_dir)
    return Session(name=project.name, desired=desired, engine=engine,
                   config_files=tuple(str(f) for f in project.config_files),
                   working_dir=str(project.working_dir),
                   disabled_services=frozenset(project.disabled_services),
                   warnings=list(project.warnings), environment=dict(project.environment))
