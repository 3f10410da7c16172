"""The one validating reader of the engine's JSON state files, and setting a damaged one aside.

Every state file is input that can be wrong: a disk that filled up, a person's edit, a
version change or a bug can leave it empty, cut short, not JSON, or JSON of another
shape. `read` tells these apart from a missing file and says what is wrong; callers
that cannot use the file `set_aside` it (renamed with a `.damaged` suffix, never
deleted, so a person can still look at it) and rebuild what they can from the kernel.

The shim imports this module (through statefile), so it uses only interpreter
built-ins, `minijson` and `stackup.errors`.
"""

import os

from stackup.engine.runtime import minijson
from stackup.errors import StackupError

TYPE_CHECKING = False  # not typing's: the shim loads no typing; type checkers know the name
if TYPE_CHECKING:
    from collections.abc import Callable

SUFFIX = ".damaged"


class DamagedState(StackupError):
    """A state file that is not JSON, or not the shape its reader expects."""

    def __init__(self, path: str, reason: str, not_json: bool = False) -> None:
        super().__init__("the state file %s is damaged: %s" % (path, reason))
        self.path = str(path)
        self.reason = reason
        # Empty or cut short: what a power loss leaves of a write that was not fsynced.
        self.not_json = not_json


def read(path: str, shape_problem: "Callable[[object], str]") -> object:
    """The JSON value in `path`, checked by `shape_problem` (which returns what is wrong
    with a parsed value, "" when nothing is); None when there is no such file.
    Raises DamagedState."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise DamagedState(path, "a directory, not a file", not_json=True) from None
    if not data.strip():
        raise DamagedState(path, "the file is empty", not_json=True)
    try:
        value = minijson.loads(data.decode())
    except UnicodeDecodeError:
        raise DamagedState(path, "not JSON: not UTF-8 text", not_json=True) from None
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if str(exc).startswith("not JSON") else "not JSON: %s" % exc
        raise DamagedState(path, reason, not_json=True) from None
    problem = shape_problem(value)
    if problem:
        raise DamagedState(path, problem)
    return value


def set_aside(path: str, stem: str = "") -> str:
    """Rename a damaged file to `<path>.damaged` (`.damaged.1`, ... when that is taken),
    or to `<stem>.damaged` (on the same file system) when the folder it is in is going
    to be removed; the new path, or "" when the file is gone already."""
    target = (stem or path) + SUFFIX
    n = 0
    while os.path.lexists(target):
        n += 1
        target = "%s%s.%d" % (stem or path, SUFFIX, n)
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return ""
    return target


def object_with(required: "dict[str, tuple]", optional: "dict[str, tuple] | None" = None,
                value: object = None) -> str:
    """The shape problem of `value` against a JSON object's keys and their types ("" if none)."""
    if not isinstance(value, dict):
        return "a JSON object was expected, not %s" % type(value).__name__
    for key in required:
        if key not in value:
            return "%r is missing" % key
    for key, types in list(required.items()) + list((optional or {}).items()):
        if key in value and not isinstance(value[key], types):
            return "%r is %s, expected %s" % (key, type(value[key]).__name__,
                                             " or ".join(t.__name__ for t in types))
    return ""
