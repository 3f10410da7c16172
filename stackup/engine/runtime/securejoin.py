"""Resolve a path inside a root as if that root were `/`, as filepath-securejoin does.

The container's root is assembled from the host's side before `pivot_root`, where the
kernel would follow an image's symlink `/etc -> /` to the HOST's `/`. `resolve_in_root`
walks the path one component at a time instead: a component that is a symlink is
replaced by its target (an absolute target starts again at the root), `..` never goes
above the root, and a component that does not exist (yet) ends the walk lexically. The
result is a host path below the root with no symlink in its existing part, which plain
path calls (mkdir, open, mount) can then use without leaving the root.

Like securejoin this reads the tree, so it assumes nobody changes it meanwhile: at
start-up the image's layers are read-only and nothing runs in the container yet. A
shared volume can still be written by another container during the start, so a mount
is made through `pin`: an O_PATH fd of the resolved target, checked to be where the
resolution led, and mounted on as /proc/self/fd/N (what runc does since CVE-2021-30465);
and a missing target is made by `make_in_root`, one component at a time from the root
without following any link.
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


class Resolved(str):
    """A host path that `resolve_in_root` made: `root` it was resolved in and `path`, the
    container's view of it, kept so that `pin` can check it and errors can name it."""

    root: str
    path: str

    def __new__(cls, host: str, root: str, path: str) -> Resolved:
        self = super().__new__(cls, host)
        self.root, self.path = root, path
        return self


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


def resolved(root: str, path: str, *, follow_last: bool = True) -> Resolved:
    """`resolve_in_root`, as a `Resolved` that remembers its root and container path."""
    return Resolved(resolve_in_root(root, path, follow_last=follow_last), root, path)


_real_roots: dict[str, str] = {}


def pin(target: Resolved) -> int:
    """An O_PATH fd of `target` (the caller closes it), once the kernel's own walk is seen
    to reach the very place the resolution did: a component swapped for a symlink since
    (by a writer racing in a shared volume) is refused, never followed off the root."""
    fd = os.open(target, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        root = target.root.rstrip("/")
        if root not in _real_roots:  # the root's own host path may hold symlinks: trusted
            _real_roots[root] = os.path.realpath(root or "/").rstrip("/")
        expected = _real_roots[root] + target[len(root):] or "/"
        if os.readlink(f"/proc/self/fd/{fd}") != expected or stat.S_ISLNK(os.fstat(fd).st_mode):
            raise _changed(target)
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_in_root(target: Resolved, directory: bool, mode: int = 0o755) -> None:
    """`mkdir -p` (directory) or touch `target`, walking from its root one component at a
    time, each opened relative to the last with O_NOFOLLOW: the resolved path holds no
    symlink, so meeting one means it was swapped in meanwhile, and it is refused."""
    root = target.root.rstrip("/")
    names = [n for n in target[len(root):].split("/") if n]
    fd = os.open(root or "/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, name in enumerate(names):
            if i == len(names) - 1 and not directory:
                _touch_at(fd, name)
                break
            fd = _enter_dir(fd, name, mode)
    except _Swapped:
        raise _changed(target) from None
    except OSError as exc:
        err = exc.errno or errno.EIO
        raise ResolveError(err, f"cannot create {target.path} in the container's root: "
                           f"{os.strerror(err)}", target.path) from None
    finally:
        os.close(fd)


class _Swapped(Exception):
    """A component that is a symlink where the resolution found none."""


def _changed(target: Resolved) -> ResolveError:
    return ResolveError(errno.EXDEV, f"{target.path} changed in the container's root while "
                        "it was being built", target.path)


_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _enter_dir(fd: int, name: str, mode: int) -> int:
    """The directory `name` below `fd` (made if missing) as a new O_PATH fd; `fd` closed."""
    try:
        try:
            sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            try:
                os.mkdir(name, mode, dir_fd=fd)
            except FileExistsError:  # made meanwhile: opened (and checked) below
                pass
            sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
    except NotADirectoryError:
        if stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
            raise _Swapped() from None
        raise
    os.close(fd)
    return sub


def _touch_at(fd: int, name: str) -> None:
    """An empty file `name` below `fd` unless something is there already (not a link)."""
    try:
        os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o644, dir_fd=fd))
    except FileExistsError:
        if stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
            raise _Swapped() from None


def _components(path: str) -> list[str]:
    """The names of `path` reversed (a stack), without empty names and `.`."""
    return [p for p in reversed(path.split("/")) if p not in ("", ".")]


def _join(root: str, parts: list[str]) -> str:
    if not parts:
        return root
    return ("" if root == "/" else root) + "/" + "/".join(parts)
