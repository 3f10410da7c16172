"""A service's lifecycle hooks, `post_start` and `pre_stop`, as compose runs them.

Each hook is a command exec'd in the container (with its `user`, `privileged`,
`working_dir`, `environment`): `post_start` right after the container has started,
`pre_stop` right before its stop signal is sent (by `stop`, `restart`, `down`, `rm -s`
and a recreate). They run one after the other; the first that exits non-zero fails
the operation, as in compose (`<service> hook exited with status N`): a failing
`post_start` fails the start, a failing `pre_stop` leaves the container running.
As in compose, the hooks are the stack file's: a session without one runs none (so
a project whose `pre_stop` fails can still be taken down by name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackup.errors import StackupError

KINDS = ("post_start", "pre_stop")
TRUE = ("true", "1", "yes", "y", "on")
OUTPUT_LINES = 3  # of a failed hook's output, in its error


@dataclass(frozen=True)
class Hook:
    """One hook: the command and how it is exec'd."""

    command: list[str]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    env: tuple[str, ...] = ()


def _privileged(value: Any) -> bool:
    return value is True or str(value).lower() in TRUE


def parse(entry: Mapping[str, Any]) -> Hook:
    """A normalized compose hook (its command already a list) as a Hook; environment
    names without a value are left out, as for the service's own environment."""
    environment = entry.get("environment") or {}
    return Hook(command=[str(a) for a in entry.get("command") or []],
                user=str(entry["user"]) if entry.get("user") not in (None, "") else None,
                privileged=_privileged(entry.get("privileged")),
                working_dir=str(entry["working_dir"]) if entry.get("working_dir") else None,
                env=tuple(f"{k}={v}" for k, v in environment.items() if v is not None))


def of(config: Mapping[str, Any], kind: str) -> list[Hook]:
    """A service's hooks of `kind` (`post_start` or `pre_stop`), in order."""
    if kind not in KINDS:
        raise ValueError(kind)
    return [parse(entry) for entry in config.get(kind) or []]


def failed(service: str, code: int, output: str = "") -> StackupError:
    """compose's error for a hook that exits non-zero, with its output's last lines
    (compose shows a hook's output as it runs; here it is kept for the error)."""
    tail = [line.strip() for line in output.splitlines() if line.strip()][-OUTPUT_LINES:]
    return StackupError(f"{service} hook exited with status {code}" + (f": {' | '.join(tail)}" if tail else ""))
