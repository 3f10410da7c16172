"""Comparable descriptions of directory trees, to check that two unpackings agree."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


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
