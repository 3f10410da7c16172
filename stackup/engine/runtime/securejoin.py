"""Resolve a path inside a root as if that root were `/`, as filepath-securejoin does.

The container's root is assembled from the host's side before `pivot_root`, where the
kernel would follow an image's symlink `/etc -> /` to the HOST's `/`. `resolve_in_root`
walks the path one component at a time instead: a component that is a symlink is
replaced by its target (an absolute target starts again at the root), `..` never goes
above the root, and a component that does not exist (yet) ends the walk lexically. The
result is a host path below the root with no symlink in its existing part, which plain
path calls (mkdir, open, mount) can then use without leaving the root.

Like securejoin this reads the tree, so it assumes nobody changes it meanwhile: at
start-up the image's layers are read-only and nothing runs in the container yet.
"""

from __future__ import annotations

import errno
import os
import stat

MAX_LINKS = 255  # securejoin's bound; the kernel's own (ELOOP) is 40 per lookup


class ResolveError(OSError):
    """A path that cannot be resolved inside the root; `str` is one readable line."""

    def __init__(self, err: int, message: str, path: str):
        super().__init__(err, message, path)
        self.message = message

    def __str__(self) -> str:
        return self.message


def resolve_in_root(root: str, path: str, *, follow_last: bool = True,
                    max_links: int = MAX_LINKS) -> str:
    """`path` (absolute or not: always taken from `root`) as a host path below `root`.

    `follow_last=False` resolves only the parent and keeps the last name as is (the
    lookup `lstat` does), so a caller can see that the path itself is a symlink."""
    root = root.rstrip("/") or "/"
    if not follow_last:
        parent, _, name = path.rstrip("/").rpartition("/")
        if name not in ("", ".", ".."):
            return _join(resolve_in_root(root, parent, max_links=max_links), [name])
    done: list[str] = []  # components already resolved: none of them is a symlink
    todo = _components(path)  # a stack: the next component is at the end
    links = 0
    while todo:
        part = todo.pop()
        if part == "..":
            if done:  # above the root is the root, as for `/..`
                done.pop()
            continue
        candidate = _join(root, done + [part])
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            mode = 0  # missing (to be made): nothing to follow
        if not stat.S_ISLNK(mode):
            done.append(part)
            continue
        links += 1
        if links > max_links:
            raise ResolveError(errno.ELOOP, f"cannot resolve {path} in the container's root: "
                               f"more than {max_links} symbolic links", path)
        target = os.readlink(candidate)
        if target.startswith("/"):
            done = []
        todo += _components(target)
    return _join(root, done)


def _components(path: str) -> list[str]:
    """The names of `path` reversed (a stack), without empty names and `.`."""
    return [p for p in reversed(path.split("/")) if p not in ("", ".")]


def _join(root: str, parts: list[str]) -> str:
    if not parts:
        return root
    return ("" if root == "/" else root) + "/" + "/".join(parts)
