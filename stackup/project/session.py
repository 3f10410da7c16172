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
from stackup.errors import UnsupportedError, UserError
from stackup.project import containerspec
from stackup.project.engine_adapter import Engine
from stackup.project.observed import Snapshot, observe


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
        services, or all)."""
        chosen = set(services) if services else set(self.services)
        flagged = spec_unsupported_fields()
        problems = []
        for name in sorted(chosen):
            config = self.services.get(name) or {}
            problems += [f"services.{name}.{key}" for key in sorted(config)
                         if key in flagged and config[key] not in (None, [], {})]
            problems += containerspec.unsupported(name, self.services.get(name) or {})
        for key, config in sorted(((self.desired or {}).get("networks") or {}).items()):
            problems += containerspec.unsupported_network(key, config or {})
        for key, config in sorted(((self.desired or {}).get("volumes") or {}).items()):
            problems += containerspec.unsupported_volume(key, config or {})
        if problems:
            lines = [f"{p} is not supported by stackup" for p in problems]
            raise UnsupportedError(lines[0], problems=lines)

    def check_services(self, services: Sequence[str]) -> None:
        unknown = [s for s in services if s not in self.services]
        if unknown:
            from stackup.errors import NotFoundError

            lines = [f"no such service: {s}" for s in unknown]
            raise NotFoundError(lines[0], problems=lines)


def spec_unsupported_fields() -> frozenset[str]:
    """The service attributes the spec layer marks as not runnable yet, read from its
    committed schema (the same list as `stackup.spec.unsupported_attributes` uses, without
    building the pydantic models: that would cost a no-change `up` ~0.15 s)."""
    from stackup.spec.shape import schema

    properties = schema()["$defs"]["ServiceModel"]["properties"]
    return frozenset(k for k, v in properties.items() if v.get("x-stackup-unsupported"))


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
