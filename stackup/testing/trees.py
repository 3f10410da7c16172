"""Comparable descriptions of directory trees, to check that two unpackings agree."""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterable, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO


def signature(root: Path, aufs_whiteouts: bool = False, mtimes: bool = True) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, content/target/device, mtime) for every entry under `root`.

    With `aufs_whiteouts`, `.wh.NAME` files (as GNU tar leaves them) are described as the
    overlayfs whiteout (char device 0:0 at NAME) that stackup makes of them, and
    `.wh..wh..opq` as the opaque mark on its directory.
    """
    out: dict[str, tuple] = {}
    opaque: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if aufs_whiteouts and name == ".wh..wh..opq":
                opaque.add(os.path.dirname(rel))
                continue
            if aufs_whiteouts and name.startswith(".wh."):
                out[os.path.join(os.path.dirname(rel), name[4:])] = ("chr", 0, 0, 0, (0, 0), None)
                continue
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    what: tuple[str, object] = ("file", hashlib.sha256(f.read()).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(full))
                mode = 0
            elif stat.S_ISDIR(st.st_mode):
                what = ("dir", None)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "chr" if stat.S_ISCHR(st.st_mode) else "blk"
                what = (kind, (os.major(st.st_rdev), os.minor(st.st_rdev)))
                if what[1] == (0, 0):
                    out[rel] = ("chr", 0, 0, 0, (0, 0), None)
                    continue
            else:
                what = ("fifo", None)
            out[rel] = (what[0], mode, st.st_uid, st.st_gid, what[1],
                        int(st.st_mtime) if mtimes and what[0] != "dir" else None)
    for rel in out:
        if out[rel][0] == "dir":
            try:
                is_opaque = os.getxattr(root / rel, "trusted.overlay.opaque") == b"y"
            except OSError:
                is_opaque = False
            out[rel] = out[rel] + (is_opaque or (aufs_whiteouts and rel in opaque),)
    return out


# --- images as one tree: their layer tars applied in order --------------------------------

@dataclass(frozen=True)
class Entry:
    """One path of a flattened image, as two builders' results are compared: no mtimes.

    `link` is a symlink's target, "MAJOR:MINOR" for a device, and for a regular file that
    has other names (hard links) the first of the group's paths in sorted order, so two
    trees with the same links agree whichever name their tars wrote first."""

    path: str
    type: str  # file | dir | symlink | chr | blk | fifo
    mode: int  # permission bits with setuid/setgid/sticky; 0 for symlinks
    uid: int
    gid: int
    size: int
    sha256: str
    link: str
    xattrs: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        what = f"{self.type} {self.mode:04o} {self.uid}:{self.gid}"
        if self.type == "file":
            what += f" {self.size}B {self.sha256[:12]}"
        if self.link:
            what += f" -> {self.link}"
        if self.xattrs:
            what += f" xattrs={dict(self.xattrs)}"
        return what


_TAR_TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
              tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "chr",
              tarfile.BLKTYPE: "blk", tarfile.FIFOTYPE: "fifo"}


def _tar_path(name: str) -> str:
    path = posixpath.normpath("/" + name).lstrip("/")
    return "" if path == "." else path


class _Flattener:
    """Docker's layer application (pkg/archive UnpackLayer) on a model of the tree: paths
    name inodes, so hard links share their content and metadata as on a disk."""

    def __init__(self) -> None:
        self.paths: dict[str, int] = {}
        self.inodes: dict[int, dict[str, Any]] = {}
        self._next = 0

    def _new_inode(self, attrs: dict[str, Any]) -> int:
        self._next += 1
        self.inodes[self._next] = attrs
        return self._next

    def _remove(self, path: str, keep: Set[str] = frozenset()) -> None:
        """`path` and everything under it, but not the paths in `keep`."""
        prefix = path + "/" if path else ""
        for p in [p for p in self.paths if (p == path or p.startswith(prefix)) and p not in keep]:
            del self.paths[p]

    def _parents(self, path: str) -> None:
        """Missing parent folders, made as Docker makes them (0755, root)."""
        parent = posixpath.dirname(path)
        while parent and parent not in self.paths:
            self.paths[parent] = self._new_inode({"type": "dir", "mode": 0o755, "uid": 0, "gid": 0,
                                                  "size": 0, "sha256": "", "link": "", "xattrs": ()})
            parent = posixpath.dirname(parent)

    def apply(self, layer: BinaryIO) -> None:
        added: set[str] = set()  # this layer's own paths: an opaque mark keeps them
        with tarfile.open(fileobj=layer, mode="r|") as tar:
            for member in tar:
                path = _tar_path(member.name)
                base = posixpath.basename(path)
                if base == ".wh..wh..opq":
                    folder = posixpath.dirname(path)
                    self._remove(folder, keep=added | {folder})
                    continue
                if base.startswith(".wh."):
                    self._remove(posixpath.join(posixpath.dirname(path), base[4:]))
                    continue
                if not path:
                    continue  # the root folder itself: not compared
                self._parents(path)
                added.add(path)
                self._add(path, member, tar)

    def _add(self, path: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        xattrs = tuple(sorted((k[len("SCHILY.xattr."):], v) for k, v in member.pax_headers.items()
                              if k.startswith("SCHILY.xattr.")))
        meta = {"mode": member.mode & 0o7777, "uid": member.uid, "gid": member.gid, "xattrs": xattrs}
        if member.islnk():
            target = _tar_path(member.linkname)
            if target not in self.paths:
                raise ValueError(f"layer: hard link {path} to {target}, which is not there")
            inode = self.paths[target]
            self._remove(path)
            self.paths[path] = inode
            self.inodes[inode].update(meta)  # Docker chowns and chmods the link: the inode
            return
        kind = _TAR_TYPES.get(member.type)
        if kind is None:
            raise ValueError(f"layer: {path} has an unknown tar type {member.type!r}")
        existing = self.paths.get(path)
        if existing is not None and kind == "dir" and self.inodes[existing]["type"] == "dir":
            self.inodes[existing].update(meta)  # a folder stays, its content too
            return
        self._remove(path)
        attrs: dict[str, Any] = {"type": kind, "size": 0, "sha256": "", "link": "", **meta}
        if kind == "file":
            data = tar.extractfile(member)
            digest = hashlib.sha256(data.read() if data else b"")
            attrs.update(size=member.size, sha256=digest.hexdigest())
        elif kind == "symlink":
            attrs.update(mode=0, link=member.linkname)
        elif kind in ("chr", "blk"):
            attrs["link"] = f"{member.devmajor}:{member.devminor}"
        self.paths[path] = self._new_inode(attrs)

    def entries(self) -> dict[str, Entry]:
        names: dict[int, list[str]] = {}
        for path, inode in self.paths.items():
            names.setdefault(inode, []).append(path)
        out = {}
        for path, inode in sorted(self.paths.items()):
            attrs = dict(self.inodes[inode])
            if attrs["type"] == "file" and len(names[inode]) > 1:
                attrs["link"] = min(names[inode])
            out[path] = Entry(path=path, **attrs)
        return out


def flatten_layers(layers: Iterable[BinaryIO]) -> dict[str, Entry]:
    """The tree an image's layers make, applied base first as Docker applies them: `.wh.NAME`
    removes NAME from the layers below, `.wh..wh..opq` empties its folder of them, a
    non-folder replaces whatever was at its path, a folder over a folder only sets its
    metadata. `layers` are uncompressed tar streams."""
    flat = _Flattener()
    for layer in layers:
        flat.apply(layer)
    return flat.entries()


def tree_differences(left: dict[str, Entry], right: dict[str, Entry],
                     names: tuple[str, str] = ("left", "right")) -> list[str]:
    """One line per path where two flattened trees differ (empty when they agree)."""
    out = []
    for path in sorted(set(left) | set(right)):
        a, b = left.get(path), right.get(path)
        if a == b:
            continue
        out.append(f"/{path}: {names[0]}: {a.describe() if a else 'absent'}; "
                   f"{names[1]}: {b.describe() if b else 'absent'}")
    return out
