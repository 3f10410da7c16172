"""Safe unpacking of one layer tarball into an empty directory, ready as an overlayfs lowerdir.

Safety rests on one fact: the destination starts empty and only this code writes
to it. So the unpacker keeps a model of what it has created (path -> kind) and
checks every entry against it before touching the disk:

- names are normalized; an absolute name or a `..` component is rejected;
- no parent of an entry may be a symlink (a path *through* a symlink is rejected),
  nor a non-directory;
- a hardlink must point at a non-directory this layer already holds;
- a whiteout `.wh.NAME` becomes a character device 0:0 at NAME, `.wh..wh..opq`
  makes its directory opaque (xattr trusted.overlay.opaque=y); anything else
  starting with `.wh.` is rejected;
- symlink targets are stored as they are and never followed.

Ownership, modes, mtimes, xattrs, hardlinks and device nodes are kept. Directory
mtimes are set last, since creating children changes them.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from stackup.engine.images.diskio import start_writeback
from stackup.engine.images.errors import ImageError, UnsafeLayerError

if TYPE_CHECKING:
    from stackup.engine.images.compression import Reader

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PAX_PREFIX = "SCHILY.xattr."
COPY_CHUNK = 1 << 20
# Files of this size or more start their writeback as soon as they are written (sync_file_range, no
# wait), so the one syncfs before the layer is installed has little left to flush.
EARLY_WRITEBACK = 64 << 10

DIR, FILE, SYMLINK, OTHER = "dir", "file", "symlink", "other"


class ForwardReader:
    """Lets tarfile's random-access mode run over a stream: seeks may only go forward.

    tarfile's stream mode ("r|") copies its whole read buffer on every small read,
    which makes unpacking slow; its random-access mode reads headers and data
    directly, and when members are taken in order it only ever seeks forward.
    """

    def __init__(self, raw):
        self._raw = raw
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        """Exactly `n` bytes unless the stream ends (tarfile does not retry short reads)."""
        data = self._raw.read(n)
        if type(data) is memoryview:  # tarfile parses headers with bytes methods
            data = bytes(data)
        if n is not None and 0 <= len(data) < n and data:
            parts = [data]
            got = len(data)
            while got < n:
                more = self._raw.read(n - got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        self._pos += len(data)
        return data

    def read_some(self, n: int) -> bytes | memoryview:
        """Up to `n` bytes (fewer when that is what the stream has at hand): no joining copy,
        and a view when the stream gives one (a file's data within the inflater's output)."""
        data = self._raw.read(n)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            pos += self._pos
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("seek from the end of a stream")
        if pos < self._pos:
            raise ImageError("layer tar is malformed: it needs a backward seek")
        while pos > self._pos:
            if not self.read(min(pos - self._pos, COPY_CHUNK)):
                break
        return self._pos


def _components(name: str, what: str, entry: str) -> tuple[str, ...]:
    """The path components of a tar name, rejecting absolute names and '..'."""
    if name.startswith("/"):
        raise UnsafeLayerError(f"layer entry {entry!r}: absolute {what} is not allowed")
    if "\x00" in name:
        raise UnsafeLayerError(f"layer entry {entry!r}: NUL byte in {what}")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeLayerError(f"layer entry {entry!r}: '..' in {what} would escape the layer")
    return parts


class LayerUnpacker:
    """Unpacks one uncompressed tar stream into `dest` (an existing, empty directory)."""

    def __init__(self, dest: Path, source_fd: int | None = None):
        """`source_fd`: the tar file itself, when the stream is that file (uncompressed);
        file contents are then copied by the kernel (copy_file_range) from it."""
        self.dest = dest
        self._source_fd = source_fd
        self._root = os.fsencode(dest)
        self.kinds: dict[tuple[str, ...], str] = {(): DIR}
        self._dir_times: list[tuple[bytes, int]] = []

    # --- the model -------------------------------------------------------------------

    def _abs(self, parts: tuple[str, ...]) -> bytes:
        return os.path.join(self._root, *[os.fsencode(p) for p in parts]) if parts else self._root

    def _check_parents(self, parts: tuple[str, ...], entry: str) -> None:
        """Each parent must be a directory of ours (made on demand), never a symlink."""
        for i in range(1, len(parts)):
            prefix = parts[:i]
            kind = self.kinds.get(prefix)
            if kind == SYMLINK:
                raise UnsafeLayerError(
                    f"layer entry {entry!r}: path goes through the symlink {'/'.join(prefix)!r}")
            if kind is None:
                os.mkdir(self._abs(prefix), 0o755)
                self.kinds[prefix] = DIR
            elif kind != DIR:
                raise UnsafeLayerError(
                    f"layer entry {entry!r}: parent {'/'.join(prefix)!r} is not a directory")

    def _clear(self, parts: tuple[str, ...], new_kind: str) -> None:
        """Make room at `parts` for an entry of `new_kind` (a later entry replaces an earlier)."""
        kind = self.kinds.get(parts)
        if kind is None or (kind == DIR and new_kind == DIR):
            return
        path = self._abs(parts)
        if kind == DIR:
            shutil.rmtree(path)
            for key in [k for k in self.kinds if k[:len(parts)] == parts]:
                del self.kinds[key]
        else:
            os.unlink(path)
            del self.kinds[parts]

    # --- entries ----------------------------------------------------------------------

    def unpack(self, stream: Reader) -> None:
        try:
            fileobj = cast(IO[bytes],  # read by tarfile as a file
                           stream if self._source_fd is not None else ForwardReader(stream))
            try:
                tar = tarfile.open(fileobj=fileobj, mode="r:")
            except tarfile.ReadError:
                if fileobj.tell() == 0:
                    return  # a zero-byte layer is an empty layer (as Docker and containerd take it)
                raise
            with tar:
                for member in tar:
                    self._entry(tar, member)
        except (tarfile.ReadError, EOFError, tarfile.HeaderError) as exc:
            raise ImageError(f"layer is truncated or not a tar archive: {exc}") from exc
        except tarfile.StreamError as exc:
            raise ImageError(f"layer tar stream is corrupt: {exc}") from exc
        for path, mtime in reversed(self._dir_times):
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)

    def _entry(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = _components(m.name, "path", m.name)
        if parts and parts[-1].startswith(WHITEOUT_PREFIX):
            self._whiteout(parts, m)
            return
        if not parts and not m.isdir():
            raise UnsafeLayerError(f"layer entry {m.name!r}: the layer root can only be a directory")
        self._check_parents(parts, m.name)
        path = self._abs(parts)
        if m.isdir():
            self._clear(parts, DIR)
            if parts not in self.kinds:
                os.mkdir(path, 0o700)
                self.kinds[parts] = DIR
            self._set_attrs(path, m)
            self._dir_times.append((path, self._mtime_ns(m)))
        elif m.isreg():
            self._clear(parts, FILE)
            self._write_file(tar, m, path)
            self.kinds[parts] = FILE
        elif m.issym():
            if "\x00" in m.linkname:
                raise UnsafeLayerError(f"layer entry {m.name!r}: NUL byte in symlink target")
            self._clear(parts, SYMLINK)
            os.symlink(os.fsencode(m.linkname), path)
            self.kinds[parts] = SYMLINK
            self._set_attrs(path, m)
        elif m.islnk():
            self._hardlink(parts, path, m)
        elif m.ischr() or m.isblk() or m.isfifo():
            self._clear(parts, OTHER)
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(path, kind | 0o600, os.makedev(m.devmajor, m.devminor) if not m.isfifo() else 0)
            self.kinds[parts] = OTHER
            self._set_attrs(path, m)
        else:
            raise UnsafeLayerError(f"layer entry {m.name!r}: unsupported tar entry type {m.type!r}")

    def _write_file(self, tar: tarfile.TarFile, m: tarfile.TarInfo, path: bytes) -> None:
        """Create the file and fill it, then set its owner, mode, mtime and xattrs on the open
        descriptor (no path lookups, no buffered file object per file)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            if m.sparse:
                src = tar.extractfile(m)
                assert src is not None  # a regular file's member has data
                with os.fdopen(os.dup(fd), "wb") as out:
                    shutil.copyfileobj(src, out, COPY_CHUNK)
            elif m.size and not (self._source_fd is not None
                                 and self._kernel_copy(self._source_fd, m, fd)):
                self._copy_data(tar, m, fd)
            if m.size >= EARLY_WRITEBACK:
                start_writeback(fd)
            self._set_attrs(fd, m)
        finally:
            os.close(fd)

    @staticmethod
    def _copy_data(tar: tarfile.TarFile, m: tarfile.TarInfo, fd: int) -> None:
        """Write a member's data straight from the tar stream: each chunk the decompressor
        hands over goes to write(2) as it is.

        The padding after the data (to the next 512-byte block) is read with it, so the
        stream is where tarfile wants its next header (else it seeks there and reads a byte
        back to check: two more trips through the stream for every file)."""
        reader = tar.fileobj
        reader.seek(m.offset_data)
        read = getattr(reader, "read_some", reader.read)
        left = m.size
        padded = -(-m.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        while padded > 0:
            data = read(min(padded, COPY_CHUNK))
            if not data:
                if left > 0:
                    raise ImageError(f"layer is truncated: data of {m.name!r} is cut short")
                return  # a stream cut in the padding: tarfile's next header read says so
            padded -= len(data)
            view = memoryview(data)[:left] if len(data) > left else memoryview(data)
            left -= len(view)
            while view:
                view = view[os.write(fd, view):]

    def _kernel_copy(self, source_fd: int, m: tarfile.TarInfo, out_fd: int) -> bool:
        """Copy a member's data from the tar file without passing it through Python."""
        offset, left = m.offset_data, m.size
        try:
            while left > 0:
                n = os.copy_file_range(source_fd, out_fd, left, offset_src=offset)
                if n == 0:
                    raise ImageError(f"layer is truncated: data of {m.name!r} is cut short")
                offset += n
                left -= n
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP) and left == m.size:
                return False
            raise
        return True

    def _hardlink(self, parts: tuple[str, ...], path: bytes, m: tarfile.TarInfo) -> None:
        target = _components(m.linkname, "hardlink target", m.name)
        for i in range(1, len(target) + 1):
            if self.kinds.get(target[:i]) == SYMLINK and i < len(target):
                raise UnsafeLayerError(
                    f"layer entry {m.name!r}: hardlink target goes through a symlink")
        kind = self.kinds.get(target)
        if kind is None:
            raise UnsafeLayerError(
                f"layer entry {m.name!r}: hardlink target {m.linkname!r} is not in this layer")
        if kind == DIR:
            raise UnsafeLayerError(f"layer entry {m.name!r}: hardlink to a directory")
        if target == parts:
            return
        self._clear(parts, kind)
        os.link(self._abs(target), path, follow_symlinks=False)
        self.kinds[parts] = kind

    def _whiteout(self, parts: tuple[str, ...], m: tarfile.TarInfo) -> None:
        base = parts[-1]
        parent = parts[:-1]
        self._check_parents(parts, m.name)
        if base == OPAQUE_MARKER:
            if parent not in self.kinds:
                os.mkdir(self._abs(parent), 0o755)
                self.kinds[parent] = DIR
            os.setxattr(self._abs(parent), OPAQUE_XATTR, b"y")
            return
        hidden = base[len(WHITEOUT_PREFIX):]
        if not hidden or hidden in (".", "..") or hidden.startswith(WHITEOUT_PREFIX):
            raise UnsafeLayerError(f"layer entry {m.name!r}: malformed whiteout")
        target = parent + (hidden,)
        if target in self.kinds:
            # Whiteouts hide lower layers only; this layer's own entry stays.
            return
        os.mknod(self._abs(target), stat.S_IFCHR | 0o600, os.makedev(0, 0))
        self.kinds[target] = OTHER

    # --- metadata ---------------------------------------------------------------------

    @staticmethod
    def _mtime_ns(m: tarfile.TarInfo) -> int:
        return int(m.mtime * 1_000_000_000)

    def _set_attrs(self, target: bytes | int, m: tarfile.TarInfo) -> None:
        """Owner, xattrs, mode, mtime of `target`: a path (never followed) or an open descriptor."""
        by_fd = isinstance(target, int)
        follow = {} if by_fd else {"follow_symlinks": False}
        os.chown(target, m.uid, m.gid, **follow)
        for key, value in m.pax_headers.items():
            if key.startswith(XATTR_PAX_PREFIX):
                name = key[len(XATTR_PAX_PREFIX):]
                if name.startswith("trusted.overlay."):
                    raise UnsafeLayerError(
                        f"layer entry {m.name!r}: carries overlayfs metadata xattr {name!r}")
                data = value.encode("utf-8", "surrogateescape")
                try:
                    os.setxattr(target, name, data, **follow)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                        raise
        mtime = self._mtime_ns(m)
        if not m.issym():
            # After chown, which clears set-id bits.
            os.chmod(target, stat.S_IMODE(m.mode))
            if not m.isdir():
                os.utime(target, ns=(mtime, mtime))
        else:
            os.utime(target, ns=(mtime, mtime), follow_symlinks=False)


def unpack_tar(stream: Reader, dest: Path, source_fd: int | None = None) -> None:
    """Unpack the uncompressed tar `stream` into the empty directory `dest`.

    Pass `source_fd` when `stream` is a plain tar file opened at its start.
    """
    LayerUnpacker(dest, source_fd).unpack(stream)
