"""`ls`: the projects the engine holds containers of, found by their labels alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from stackup.engine.runtime.containerstate import Status
from stackup.project import naming
from stackup.project.engine_adapter import Engine


@dataclass
class ProjectSummary:
    name: str
    config_files: str                                        # as its first container recorded them
    statuses: dict[str, int] = field(default_factory=dict)   # container status -> how many

    @property
    def running(self) -> bool:
        return bool(self.statuses.get(Status.RUNNING))

    def status(self) -> str:
        """compose's STATUS column: `exited(1), running(2)`."""
        return ", ".join(f"{s}({n})" for s, n in sorted(self.statuses.items()))


def list_projects(engine: Engine) -> list[ProjectSummary]:
    """Every project with a container, by name."""
    projects: dict[str, ProjectSummary] = {}
    for state in engine.container_states({}):
        labels = state.container_spec().labels
        name = labels.get(naming.PROJECT)
        if not name:
            continue
        entry = projects.setdefault(name, ProjectSummary(name, labels.get(naming.CONFIG_FILES, "")))
        entry.statuses[state.status] = entry.statuses.get(state.status, 0) + 1
    return [projects[name] for name in sorted(projects)]
