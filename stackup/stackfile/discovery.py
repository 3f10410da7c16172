"""Which files make the project, where it lives, what it is called, its environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from stackup.stackfile import envfile

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = ("compose.override.yaml", "compose.override.yml",
                  "docker-compose.override.yaml", "docker-compose.override.yml")


class DiscoveryError(Exception):
    pass


class NoFileFound(DiscoveryError):
    """No -f, no COMPOSE_FILE, and no default file in the folder or its parents."""


@dataclass
class Discovered:
    """The stack files found for a command, the folder they are relative to, and its environment."""

    files: list[str]                 # absolute paths, or '-' for stdin
    working_dir: Path
    environ: dict[str, str]          # process environment + .env / --env-file
    warnings: list[str] = field(default_factory=list)


def normalize_project_name(name: str) -> str:
    """Lowercase, only [a-z0-9_-], no leading '_' or '-' (as compose normalizes)."""
    return "".join(re.findall(r"[a-z0-9_-]", name.lower())).lstrip("_-")


def valid_project_name(name: str) -> bool:
    return bool(name) and normalize_project_name(name) == name


def _find_default(directory: Path, warnings: list[str]) -> Path | None:
    """compose.yaml > compose.yml > docker-compose.yaml > docker-compose.yml, walking up."""
    current = directory
    while True:
        found = [current / name for name in DEFAULT_FILES if (current / name).is_file()]
        if found:
            if len(found) > 1:
                warnings.append(f"Found multiple config files with supported names: {', '.join(map(str, found))}; "
                                f"using {found[0]}")
            return found[0]
        if current.parent == current:
            return None
        current = current.parent


def _override_for(main: Path, warnings: list[str]) -> Path | None:
    found = [main.parent / name for name in OVERRIDE_FILES if (main.parent / name).is_file()]
    if len(found) > 1:
        warnings.append(f"Found multiple override files: {', '.join(map(str, found))}; using {found[0]}")
    return found[0] if found else None


def discover(files: list[str], project_directory, env_files: list[str], environ: dict[str, str],
             cwd: Path) -> Discovered:
    warnings: list[str] = []
    environ = dict(environ)
    project_dir = Path(project_directory) if project_directory else None
    if project_dir is not None and not project_dir.is_absolute():
        project_dir = cwd / project_dir
    # the working directory that .env is read from, before COMPOSE_FILE is known
    if project_dir is not None:
        env_dir = project_dir
    elif files and files[0] != "-":
        env_dir = _abs(files[0], cwd).parent
    else:
        env_dir = cwd
    dotenv = _read_dotenv(env_files, env_dir, environ, cwd)
    for key, value in dotenv.items():
        environ.setdefault(key, value)
    if not files and environ.get("COMPOSE_FILE"):
        separator = environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        files = [f for f in environ["COMPOSE_FILE"].split(separator) if f]
        base = env_dir
        paths = [str(_abs(f, base)) for f in files]
    elif files:
        paths = [f if f == "-" else str(_abs(f, cwd)) for f in files]
    else:
        main = _find_default(project_dir or cwd, warnings)
        if main is None:
            raise NoFileFound("no configuration file provided: not found (looked for "
                                 + ", ".join(DEFAULT_FILES) + f" in {project_dir or cwd} and its parents)")
        paths = [str(main)]
        override = _override_for(main, warnings)
        if override is not None:
            paths.append(str(override))
    if project_dir is None:
        project_dir = Path(paths[0]).parent if paths[0] != "-" else cwd
        # the project's own folder may hold a .env of its own (COMPOSE_FILE pointed there)
        if not env_files and os.path.normpath(project_dir) != os.path.normpath(env_dir):
            for key, value in _read_dotenv([], Path(project_dir), environ, cwd).items():
                environ.setdefault(key, value)
    return Discovered(paths, Path(os.path.normpath(project_dir)), environ, warnings)


def _abs(path: str, base: Path) -> Path:
    expanded = Path(os.path.expanduser(path))
    return Path(os.path.normpath(expanded if expanded.is_absolute() else base / expanded))


def _read_dotenv(env_files: list[str], env_dir: Path, environ: dict[str, str], cwd: Path) -> dict[str, str]:
    if env_files:
        paths = [_abs(f, cwd) for f in env_files]
    else:
        default = env_dir / ".env"
        if not default.is_file():
            return {}
        paths = [default]
    try:
        return envfile.read_files(paths, environ)
    except envfile.EnvFileError as exc:
        raise DiscoveryError(str(exc)) from None
