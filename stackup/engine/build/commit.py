"""A build step's changes become a layer: its overlay upper folder, as a tar and as the layer itself.

The upper is in overlayfs's form: a deleted file is a 0/0 character device, a folder
that hides what the lower layers had there carries trusted.overlay.opaque=y. The tar is
in Docker's form: `.wh.NAME` (an empty file) and `.wh..wh..opq` (inside the opaque
folder, after it). It is written in a fixed order (names sorted byte-wise, a folder
before its contents) with nothing that varies between two identical trees (no user
or group names, no atime or ctime, whole-second mtimes, no gzip name or time), so the
same tree always gives the same diff_id and blob.

The tar is streamed through gzip into the blob store; the upper folder itself is then
renamed into the layer store as the layer's files: nothing is copied or unpacked again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

from stackup.engine.build.model import LayerRef
from stackup.engine.images import digest as dg
from stackup.engine.images import mediatypes as mt
from stackup.engine.images.compression import gzip_stream
from stackup.engine.images.errors import ImageError
from stackup.engine.images.store import ImageStore
from stackup.engine.images.unpack import OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX, XATTR_PAX_PREFIX

OVERLAY_XATTRS = "trusted.overlay."
# What overlay writes when a folder is renamed (redirect_dir) or only metadata is copied up
# (metacopy): the upper then does not hold the whole change, and no tar can say it.
UNTARRABLE = {"trusted.overlay.redirect": "a folder renamed with redirect_dir",
              "trusted.overlay.metacopy": "a metadata-only copy-up (metacopy)"}
CHUNK = 1 << 20
BLOCK = tarfile.BLOCKSIZE


def commit(store: ImageStore, upper: Path, parent_chain: str | None) -> LayerRef | None:
    """Make the layer of `upper` (on top of `parent_chain`) and return it; None when the
    step changed nothing.

    `upper` is taken in every case: renamed into the layer store, or removed (nothing
    changed, or the layer is there already). Call it once the overlay is unmounted.
    """
    if not any(os.scandir(upper)):
        os.rmdir(upper)
        return None
    with store.adding():
        writer = store.blobs.writer()
        try:
            try:
                diff_id, size = gzip_stream(_Joined(tar_chunks(upper)), writer.write)
            except OSError as exc:
                raise ImageError(f"cannot make a layer of {upper}: {exc.strerror or exc}") from exc
            blob, blob_size = writer.commit(what="layer")
        finally:
            writer.abort()
        chain = diff_id if parent_chain is None else dg.of_bytes(f"{parent_chain} {diff_id}".encode())
        try:
            store.layers.adopt(upper, diff_id, chain, parent_chain, size)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise ImageError(f"cannot store the layer of {upper}: {exc.strerror or exc}") from exc
            # the scratch folder is on another filesystem than the store: unpack the blob instead
            store.layers.unpack(store.blobs.path(blob), diff_id, chain, parent_chain,
                                what=f"layer {blob}", blob_digest=blob)
            shutil.rmtree(upper)
    return LayerRef(diff_id=diff_id, blob=blob, size=blob_size, media_type=mt.OCI_LAYER_GZIP,
                    chain_id=chain)


# --- the tar -----------------------------------------------------------------------------

def tar_chunks(upper: Path) -> Iterator[bytes]:
    """The layer tar of the overlay upper folder `upper`, in pieces (never empty ones).

    Overlay's bookkeeping xattrs other than the opaque mark are removed from the files on
    the way, so the folder, once a layer, is what unpacking the tar would have made."""
    links: dict[tuple[int, int], str] = {}
    for rel, path, st in _walk(os.fsencode(upper)):
        xattrs, opaque = _xattrs(path, rel)
        info = _header(rel, path, st, xattrs)
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode) and not _is_whiteout(st):
            # (overlay makes every whiteout a link of one shared inode: never a hardlink here)
            first = links.setdefault((st.st_dev, st.st_ino), info.name)
            if first != info.name:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
        yield _tobuf(info)
        if info.type == tarfile.REGTYPE and info.size:
            yield from _data(path, info.size, rel)
        if opaque:
            marker = tarfile.TarInfo(f"{rel}/{OPAQUE_MARKER}")
            marker.mode, marker.uid, marker.gid, marker.mtime = \
                stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
            marker.uname = marker.gname = ""
            yield _tobuf(marker)
    yield b"\0" * (2 * BLOCK)


def _walk(top: bytes, rel: str = "") -> Iterator[tuple[str, bytes, os.stat_result]]:
    """(tar name, path, lstat) of everything below `top`: sorted, a folder before its contents."""
    names = sorted(os.listdir(top))
    for name in names:
        path = os.path.join(top, name)
        st = os.lstat(path)
        name_rel = f"{rel}{os.fsdecode(name)}"
        if stat.S_ISSOCK(st.st_mode):
            continue  # Docker leaves sockets out of layers too
        yield name_rel, path, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(path, name_rel + "/")


def _xattrs(path: bytes, rel: str) -> tuple[dict[str, str], bool]:
    """The xattrs a tar keeps (as PAX values) and whether the folder is opaque."""
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}, False
        raise
    kept: dict[str, str] = {}
    opaque = False
    for name in names:
        if name in UNTARRABLE:
            raise ImageError(f"cannot make a layer: /{rel} is {UNTARRABLE[name]}, which a layer "
                             "tar cannot hold (overlay's redirect_dir/metacopy must be off)")
        value = os.getxattr(path, name, follow_symlinks=False)
        if name == OPAQUE_XATTR and value == b"y":
            opaque = True
        elif name.startswith(OVERLAY_XATTRS):
            with contextlib.suppress(OSError):  # origin, impure...: meaningless once a layer
                os.removexattr(path, name, follow_symlinks=False)
        else:
            kept[XATTR_PAX_PREFIX + name] = value.decode("utf-8", "surrogateescape")
    return kept, opaque


def _header(rel: str, path: bytes, st: os.stat_result, xattrs: dict[str, str]) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    info.uname = info.gname = ""
    info.pax_headers = xattrs
    mode = st.st_mode
    if _is_whiteout(st):
        head, _, name = rel.rpartition("/")
        info.name = f"{head}/{WHITEOUT_PREFIX}{name}" if head else WHITEOUT_PREFIX + name
        info.type, info.mode, info.pax_headers = tarfile.REGTYPE, 0o600, {}
    elif stat.S_ISREG(mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.fsdecode(os.readlink(path))
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        raise ImageError(f"cannot make a layer: /{rel} is of a kind a tar cannot hold")
    return info


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _tobuf(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _data(path: bytes, size: int, rel: str) -> Iterator[bytes]:
    """The file's `size` bytes, then the padding to the next block."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        left = size
        while left > 0:
            data = os.read(fd, min(left, CHUNK))
            if not data:
                raise ImageError(f"cannot make a layer: /{rel} shrank while it was read")
            left -= len(data)
            yield data
    finally:
        os.close(fd)
    if size % BLOCK:
        yield b"\0" * (BLOCK - size % BLOCK)


class _Joined:
    """A reader over the pieces: reads of about the size asked for (headers are 512 bytes
    each: compressing them one by one would cost a call each)."""

    def __init__(self, pieces: Iterator[bytes]):
        self._pieces = pieces

    def read(self, n: int = -1) -> bytes:
        want = n if n > 0 else CHUNK
        parts: list[bytes] = []
        got = 0
        for piece in self._pieces:
            parts.append(piece)
            got += len(piece)
            if got >= want:
                break
        return b"".join(parts)
