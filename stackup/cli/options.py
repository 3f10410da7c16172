"""Options that every compose-level command shares (`stackup -f x.yaml -p name up`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class GlobalOptions:
    """The global options of every command (parsed by the root callback into ctx.obj)."""

    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: Path | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    debug: bool = False
    progress: str = "auto"
