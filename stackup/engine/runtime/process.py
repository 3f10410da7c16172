"""The container's process: user and groups from the image's files, env, limits, exec.

User resolution follows Docker: `name`, `uid`, `name:group`, `uid:gid`; a name must
exist in the container's /etc/passwd (a number need not); the supplementary groups are
the groups in /etc/group that list the user.
"""

from __future__ import annotations

import os
import resource  # imported here: after pivot_root the host's modules are out of reach

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

ULIMITS = {"core": 4, "cpu": 0, "data": 2, "fsize": 1, "locks": 10, "memlock": 8,
           "msgqueue": 12, "nice": 13, "nofile": 7, "nproc": 6, "rss": 5, "rtprio": 14,
           "rttime": 15, "sigpending": 11, "stack": 3, "as": 9}


class UserNotFound(Exception):
    pass


class User:
    __slots__ = ("uid", "gid", "groups", "home", "name")

    def __init__(self, uid: int = 0, gid: int = 0, groups: list[int] | None = None,
                 home: str = "/", name: str = ""):
        self.uid, self.gid, self.groups, self.home, self.name = uid, gid, groups or [], home, name


def _table(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(user: str, passwd: str, group: str) -> User:
    """Resolve `user` ('' means root) against the contents of /etc/passwd and /etc/group."""
    name, _, grp = (user or "0").partition(":")
    users = [row for row in _table(passwd) if len(row) >= 7]
    groups = [row for row in _table(group) if len(row) >= 4]
    entry = next((r for r in users if r[0] == name), None)
    if entry is None and name.isdigit():
        entry = next((r for r in users if r[2] == name), None)
    if entry is None and not name.isdigit():
        raise UserNotFound(f"unable to find user {name}: no matching entries in passwd file")
    uid = int(entry[2]) if entry else int(name)
    gid = int(entry[3]) if entry else 0
    home = entry[5] if entry else "/"
    username = entry[0] if entry else ""
    if grp:
        g = next((r for r in groups if r[0] == grp or (grp.isdigit() and r[2] == grp)), None)
        if g is None and not grp.isdigit():
            raise UserNotFound(f"unable to find group {grp}: no matching entries in group file")
        gid = int(g[2]) if g else int(grp)
    extra = [int(r[2]) for r in groups
             if username and username in r[3].split(",") and int(r[2]) != gid]
    return User(uid, gid, [gid] + extra, home, username)


def additional_groups(names: list[str], group: str) -> list[int]:
    """`group_add`: each a group name of the container's /etc/group, or a number (taken
    as it is, whether or not the file has it), as Docker resolves them."""
    rows = [row for row in _table(group) if len(row) >= 3]
    ids = []
    for name in names:
        row = next((r for r in rows if r[0] == name), None)
        if row is not None:
            ids.append(int(row[2]))
        elif str(name).isdigit():
            ids.append(int(name))
        else:
            raise UserNotFound(f"unable to find group {name}: no matching entries in group file")
    return ids


def read_or_empty(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def final_env(env: list[str], hostname: str, home: str, tty: bool) -> dict[str, str]:
    """The env the process sees: Docker adds HOSTNAME and HOME (and TERM with a tty)."""
    result = {"HOSTNAME": hostname}
    for item in env:
        key, _, value = item.partition("=")
        result[key] = value
    result.setdefault("HOME", home or "/")
    result.setdefault("PATH", DEFAULT_PATH)
    if tty:
        result.setdefault("TERM", "xterm")
    return result


def apply_rlimits(ulimits: dict[str, list[int]]) -> None:
    for name, (soft, hard) in ulimits.items():
        resource.setrlimit(ULIMITS[name], (soft, hard))


def switch_user(user: User) -> None:
    """Drop to the user's ids; the kernel clears the capabilities of a non-root uid."""
    os.setgroups(user.groups)
    os.setgid(user.gid)
    os.setuid(user.uid)


def find_executable(name: str, path_var: str) -> str | None:
    if "/" in name:
        return name
    for d in path_var.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
