"""What a caller tells the loader: the same knobs as compose's global options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LoadOptions:
    """How to load a stack: the compose global options plus what the command asks for."""

    files: list[str] = field(default_factory=list)       # -f (repeatable, '-' is stdin)
    project_name: str | None = None                      # -p
    project_directory: Path | str | None = None          # --project-directory
    env_files: list[str] = field(default_factory=list)   # --env-file (repeatable)
    profiles: list[str] = field(default_factory=list)    # --profile (repeatable, '*' for all)
    interpolate: bool = True                             # False: --no-interpolate
    stdin: str | None = None                             # text of '-f -' (read from sys.stdin if None)
    consistency: bool = True                             # False: --no-consistency
    services: list[str] = field(default_factory=list)    # only these and their dependencies;
                                                         # their profiles are enabled
    enable_services: list[str] = field(default_factory=list)  # enable their profiles, keep all
                                                              # (`up web` when web has a profile)

    @classmethod
    def from_global(cls, options, **extra) -> LoadOptions:
        """LoadOptions from the CLI's GlobalOptions (or anything with the same fields)."""
        return cls(files=list(getattr(options, "files", []) or []),
                   project_name=getattr(options, "project_name", None),
                   project_directory=getattr(options, "project_directory", None),
                   env_files=list(getattr(options, "env_files", []) or []),
                   profiles=list(getattr(options, "profiles", []) or []), **extra)
