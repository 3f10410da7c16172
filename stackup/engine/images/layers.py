"""Unpacked layers, one directory per chain ID, shared by every image that has them.

    layers/<chain hex>/diff        the layer's files (an overlayfs lower directory)
    layers/<chain hex>/layer.json  diff_id, chain_id, parent, size

A layer is unpacked into `layers/.tmp-*`, its diff_id checked, then the whole
directory is renamed into place, so a crash, a corrupt blob or a full disk leaves
nothing half-made under a real name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from stackup.engine import state
from stackup.engine.images import digest as dg
from stackup.engine.images.errors import DigestMismatchError, ImageError

META = "layer.json"


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
        # imported here: resolving images (every `container run`) needs none of this
        from stackup.engine.images.compression import is_compressed
        from stackup.engine.images.unpack import unpack_tar

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
        from stackup.engine.images.compression import open_uncompressed
        from stackup.engine.images.unpack import unpack_tar

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
            state.atomic_write_json(tmp / META, {"diff_id": diff_id, "chain_id": chain_id,
                                                 "parent": parent, "size": size})
            try:
                os.rename(tmp, self.dir(chain_id))
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                return False  # another process unpacked the same layer first
            state.fsync_dir(self.root)
            return True
        except OSError as exc:
            raise ImageError(f"cannot unpack {what}: {exc.strerror or exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)

    def delete(self, chain_id: str) -> None:
        """Remove a layer: renamed aside first so a half-removed layer never looks whole."""
        src = self.dir(chain_id)
        if not src.exists():
            return
        doomed = Path(tempfile.mkdtemp(prefix=".del-", dir=self.root))
        os.rename(src, doomed / "x")
        shutil.rmtree(doomed)
