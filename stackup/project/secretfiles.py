"""A service's `secrets` and `configs` -> the files its container is given (pure but for
reading a `file:` source).

As compose places them: a secret at /run/secrets/<name> (a relative `target` is taken
under /run/secrets), a config at /<name> (a relative `target` under /); the content from
the top-level entry's `file`, `environment` (a variable of the stack's environment) or
`content`; owner `uid`/`gid` (root by default) and `mode` (0444 by default), read-only.
The engine writes each into the container's private folder and binds it (see
`Runtime.create`), so the content never reaches the image, the log or `inspect`.
An `external` one (looked up in a store stackup does not have) was refused before by
the table of supported attributes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from stackup.engine.runtime.spec import ContainerFile
from stackup.errors import UserError

SECRETS_DIR = "/run/secrets"
CONFIGS_DIR = "/"
DEFAULT_MODE = 0o444


def container_files(config: Mapping[str, Any], project: Mapping[str, Any], environment: Mapping[str, str],
                    working_dir: str, where: str) -> list[ContainerFile]:
    """The files of the service's `secrets` then `configs` (`project`: the stack's
    normalized dict, for the top-level entries)."""
    files = []
    for kind, base in (("secrets", SECRETS_DIR), ("configs", CONFIGS_DIR)):
        defined = project.get(kind) or {}
        for i, entry in enumerate(config.get(kind) or []):
            ref = {"source": entry} if isinstance(entry, str) else dict(entry)
            here = f"{where}.{kind}[{i}]"
            source = str(ref.get("source") or "")
            if source not in defined:
                raise UserError(f"{here}: {kind[:-1]} {source!r} is not defined in the top-level {kind}")
            data = _content(defined[source] or {}, f"{kind}.{source}", environment, working_dir)
            files.append(ContainerFile(target=_target(str(ref.get("target") or ""), source, base),
                                       data=data, uid=_id(ref.get("uid"), f"{here}.uid"),
                                       gid=_id(ref.get("gid"), f"{here}.gid"),
                                       mode=_mode(ref.get("mode"), f"{here}.mode")))
    return files


def _target(target: str, source: str, base: str) -> str:
    target = target or source
    return target if target.startswith("/") else os.path.join(base, target)


def _content(top: Mapping[str, Any], where: str, environment: Mapping[str, str], working_dir: str) -> bytes:
    if top.get("file"):
        path = os.path.join(working_dir, str(top["file"]))
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise UserError(f"{where}.file: cannot read {path}: {exc.strerror}") from None
    if top.get("environment"):
        name = str(top["environment"])
        if name not in environment:
            raise UserError(f"{where}.environment: the variable {name} is not set")
        return str(environment[name]).encode()
    if top.get("content") is not None:
        return str(top["content"]).encode()
    raise UserError(f"{where}: give its file, environment or content")


def _id(value: Any, where: str) -> int:
    if value in (None, ""):
        return 0
    try:
        number = int(str(value))
    except ValueError:
        raise UserError(f"{where}: expected a numeric id, not {value!r}") from None
    if number < 0:
        raise UserError(f"{where}: expected a numeric id, not {value!r}")
    return number


def _mode(value: Any, where: str) -> int:
    """0444 by default; a string is octal (as compose writes it: "0440"), a number as given."""
    if value in (None, ""):
        return DEFAULT_MODE
    try:
        mode = value if isinstance(value, int) else int(str(value), 8)
    except ValueError:
        raise UserError(f"{where}: expected an octal file mode such as 0440, not {value!r}") from None
    if not 0 <= mode <= 0o7777:
        raise UserError(f"{where}: file mode {value!r} is out of range")
    return mode
