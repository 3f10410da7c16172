"""Taking out of a RUN step's upper folder what the runtime made only to mount on.

To bind /etc/hosts, /etc/resolv.conf, /etc/hostname, to mount /proc, /sys, /dev and the
step's own mounts, the runtime creates an empty file or folder at each target that the
image lacks (and the missing folders above it). Those land in the step's upper folder
although the command never made them. BuildKit removes such "mount stubs" after the
command (executor/stubs.go): a path that did not exist before the run, and is still an
empty folder or an empty regular file after it. The same rule here, with "before the
run" read from the lower layers (the runtime never changes them). A folder that the
image has but the upper holds only because a stub was made in it (a copy-up: same
mode and owner, nothing else inside, not opaque) goes too, so that a step that changed
nothing gives an empty upper. Parents keep their timestamps, as BuildKit keeps them.

Writes to /etc/hosts, /etc/resolv.conf and /etc/hostname go to the runtime's files bound
there, never to the upper folder, so they are not part of the layer (as with BuildKit).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OPAQUE = "trusted.overlay.opaque"
MAX_LINKS = 40


def clean_stubs(upper: Path, layers: list[Path], targets: list[str], keep: str = "/") -> list[str]:
    """Remove the stubs of `targets` (paths in the container) from `upper`, given the lower
    `layers` (base first); `keep` (the working directory, which Docker creates and keeps)
    and the folders above it stay. The container paths removed, deepest first."""
    lowers = LowerTree(layers)
    candidates: set[str] = set()
    for target in targets:
        path = lowers.resolve(target)
        while path != "/":
            candidates.add(path)
            path = os.path.dirname(path)
    path = lowers.resolve(keep)
    while path != "/":
        candidates.discard(path)
        path = os.path.dirname(path)
    removed = []
    for path in sorted(candidates, key=lambda p: (-p.count("/"), p)):
        host = str(upper) + path
        try:
            st = os.lstat(host)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _is_stub(host, st, lowers.lookup(path)):
            _remove_keeping_parent_times(host, st)
            removed.append(path)
    return removed


def _is_stub(host: str, st: os.stat_result, below: os.stat_result | None) -> bool:
    if stat.S_ISDIR(st.st_mode):
        if os.listdir(host):
            return False
        if below is None:
            return True  # (opaque when made over a lower layer's whiteout)
        return (stat.S_ISDIR(below.st_mode) and not _opaque(host) and below.st_mode == st.st_mode
                and (below.st_uid, below.st_gid) == (st.st_uid, st.st_gid))
    # a file the runtime made is new and empty (it never touches the image's files)
    return below is None and stat.S_ISREG(st.st_mode) and st.st_size == 0


def _remove_keeping_parent_times(host: str, st: os.stat_result) -> None:
    parent = os.path.dirname(host)
    before = os.lstat(parent)
    if stat.S_ISDIR(st.st_mode):
        os.rmdir(host)
    else:
        os.unlink(host)
    os.utime(parent, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False)


def _opaque(host: str) -> bool:
    try:
        return os.getxattr(host, OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


class LowerTree:
    """The merged view of overlay layers (whiteouts, opaque folders), read from the layer
    folders themselves: what a path was before the step ran."""

    def __init__(self, layers: list[Path]):
        self.top_first = [str(p) for p in reversed(layers)]

    def lookup(self, path: str) -> os.stat_result | None:
        """The entry at `path` (the topmost layer's; a symlink is not followed), or None."""
        dirs = self.top_first
        names = [n for n in path.split("/") if n]
        if not names:
            return os.lstat(dirs[0]) if dirs else None
        for i, name in enumerate(names):
            found, dirs = self._entry(dirs, name)
            if found is None:
                return None
            if i == len(names) - 1:
                return found
            if not stat.S_ISDIR(found.st_mode):
                return None
        return None

    @staticmethod
    def _entry(dirs: list[str], name: str) -> tuple[os.stat_result | None, list[str]]:
        """`name` in the merged folder made of `dirs` (top first): its topmost entry, and the
        folders it merges when it is a folder."""
        found: os.stat_result | None = None
        below: list[str] = []
        for d in dirs:
            entry = f"{d}/{name}"
            try:
                st = os.lstat(entry)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if _whiteout(st):
                break
            if found is None:
                found = st
            if not stat.S_ISDIR(st.st_mode) or not stat.S_ISDIR(found.st_mode):
                break  # a non-folder hides what is below it
            below.append(entry)
            if _opaque(entry):
                break
        return found, below

    def resolve(self, path: str) -> str:
        """`path` with the symlinks of the lower tree followed, kept inside the root (as the
        runtime resolves a mount target)."""
        pending = [n for n in path.split("/") if n]
        done: list[str] = []
        links = 0
        while pending:
            name = pending.pop(0)
            if name == ".":
                continue
            if name == "..":
                if done:
                    done.pop()
                continue
            current = "/" + "/".join(done + [name])
            st = self.lookup(current)
            if st is not None and stat.S_ISLNK(st.st_mode) and links < MAX_LINKS:
                links += 1
                target = self._readlink(current)
                if target.startswith("/"):
                    done = []
                pending = [n for n in target.split("/") if n] + pending
                continue
            done.append(name)
        return "/" + "/".join(done)

    def _readlink(self, path: str) -> str:
        names = [n for n in path.split("/") if n]
        dirs = self.top_first
        for name in names[:-1]:
            _, dirs = self._entry(dirs, name)
        for d in dirs:
            entry = f"{d}/{names[-1]}"
            if os.path.islink(entry):
                return os.readlink(entry)
        return ""
