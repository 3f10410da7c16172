"""Unpacked layers, one directory per chain ID, shared by every image that has them.

    layers/<chain hex>/diff        the layer's files (an overlayfs lower directory)
    layers/<chain hex>/layer.json  diff_id, chain_id, parent, size

A layer is unpacked into `layers/.tmp-*`, its diff_id checked, its files flushed
to disk (one syncfs), then `layer.json` (the marker) is written and fsynced, and
only then the whole directory is renamed into place. So a crash (even a power
cut), a corrupt blob or a full disk leaves nothing half-made under a real name,
and a directory without its marker is never used: the next command that adds to
the store (or a gc) sweeps `.tmp-*` leftovers and marker-less directories away.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from stackup.engine import state
from stackup.engine.images import digest as dg
from stackup.engine.images.compression import is_compressed, open_uncompressed
from stackup.engine.images.errors import DigestMismatchError, ImageError
from stackup.engine.images.unpack import unpack_tar

META = "layer.json"
LEFTOVER_PREFIXES = (".tmp-", ".del-")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def syncfs(path: Path) -> None:
    """Flush the filesystem holding `path` (one syscall, instead of an fsync per file)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


class LayerStore:
    def __init__(self, root: Path):
        self.root = root

    def dir(self, chain_id: str) -> Path:
        return self.root / dg.hex_of(chain_id)

    def path(self, chain_id: str) -> Path:
        """The unpacked files of the layer (what overlayfs stacks)."""
        return self.dir(chain_id) / "diff"

    def has(self, chain_id: str) -> bool:
        return (self.dir(chain_id) / META).is_file()

    def meta(self, chain_id: str) -> dict:
        return state.read_json(self.dir(chain_id) / META, {}) or {}

    def chain_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return ["sha256:" + e.name for e in os.scandir(self.root)
                if dg.DIGEST_RE.fullmatch("sha256:" + e.name)]

    def unpack(self, blob: Path, diff_id: str, chain_id: str, parent: str | None,
               what: str = "layer", blob_digest: str | None = None) -> bool:
        """Unpack `blob` as layer `chain_id` unless it is already there; True if unpacked now.

        `blob_digest`: the digest the blob store verified `blob` against. An
        uncompressed blob whose digest is the diff_id needs no second hash, and its
        files are copied by the kernel.
        """
        if self.has(chain_id):
            return False
        with open(blob, "rb") as raw:
            if blob_digest == diff_id and not is_compressed(raw):
                def fill(diff: Path) -> tuple[str, int]:
                    unpack_tar(raw, diff, source_fd=raw.fileno())
                    return diff_id, os.fstat(raw.fileno()).st_size
                return self._install(chain_id, diff_id, parent, what, fill)
            return self.unpack_stream(raw, diff_id, chain_id, parent, what)

    def unpack_stream(self, raw, diff_id: str, chain_id: str, parent: str | None, what: str = "layer",
                      finish: Callable[[], None] | None = None) -> bool:
        """Unpack the (possibly compressed) layer read from `raw`, checking its diff_id.

        `finish` runs once the tar is read, before the layer is installed: a pull
        uses it to verify and commit the blob it was writing on the way, so a
        corrupt download never leaves a layer behind.
        """
        def fill(diff: Path) -> tuple[str, int]:
            reader = dg.HashingReader(open_uncompressed(raw, what))
            unpack_tar(reader, diff)
            reader.drain()
            if finish is not None:
                finish()
            return reader.digest(), reader.size
        return self._install(chain_id, diff_id, parent, what, fill)

    def _install(self, chain_id: str, diff_id: str, parent: str | None, what: str,
                 fill: Callable[[Path], tuple[str, int]]) -> bool:
        """Fill a temporary directory, check the diff_id, rename it into place."""
        if self.has(chain_id):
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            (tmp / "diff").mkdir(mode=0o755)
            digest, size = fill(tmp / "diff")
            if digest != diff_id:
                raise DigestMismatchError(
                    f"{what} does not match the image config: diff_id {diff_id}, content {digest}")
            # The files reach the disk before the marker does; the marker before the rename.
            syncfs(tmp)
            state.atomic_write_json(tmp / META, {"diff_id": diff_id, "chain_id": chain_id,
                                                 "parent": parent, "size": size})
            if not self._rename_into_place(tmp, chain_id):
                return False  # another process unpacked the same layer first
            state.fsync_dir(self.root)
            return True
        except OSError as exc:
            raise ImageError(f"cannot unpack {what}: {exc.strerror or exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)

    def _rename_into_place(self, tmp: Path, chain_id: str) -> bool:
        """Rename `tmp` to the layer's directory; False if a whole layer is there already."""
        for attempt in (0, 1):
            try:
                os.rename(tmp, self.dir(chain_id))
                return True
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                if self.has(chain_id) or attempt:
                    return False
                # A directory without its marker is a leftover (never used): replace it.
                self.delete(chain_id)
        return False

    def sweep(self) -> list[str]:
        """Remove leftovers of interrupted work: temp dirs and layer dirs without a marker.

        Call only while nothing adds layers (the store's gc lock held exclusively).
        Returns the names removed.
        """
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        for entry in os.scandir(self.root):
            torn = dg.DIGEST_RE.fullmatch("sha256:" + entry.name) and \
                not os.path.isfile(os.path.join(entry.path, META))
            if entry.name.startswith(LEFTOVER_PREFIXES) or torn:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                removed.append(entry.name)
        return removed

    def delete(self, chain_id: str) -> None:
        """Remove a layer: renamed aside first so a half-removed layer never looks whole."""
        src = self.dir(chain_id)
        if not src.exists():
            return
        doomed = Path(tempfile.mkdtemp(prefix=".del-", dir=self.root))
        os.rename(src, doomed / "x")
        shutil.rmtree(doomed)
