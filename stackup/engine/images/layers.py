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
from pathlib import Path

from stackup.engine import state
from stackup.engine.images import digest as dg
from stackup.engine.images.compression import open_uncompressed
from stackup.engine.images.errors import DigestMismatchError, ImageError
from stackup.engine.images.unpack import unpack_tar

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
               what: str = "layer") -> bool:
        """Unpack `blob` as layer `chain_id` unless it is already there; True if unpacked now."""
        if self.has(chain_id):
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            (tmp / "diff").mkdir(mode=0o755)
            with open(blob, "rb") as raw:
                reader = dg.HashingReader(open_uncompressed(raw, what))
                unpack_tar(reader, tmp / "diff")
                reader.drain()
            if reader.digest() != diff_id:
                raise DigestMismatchError(
                    f"{what} does not match the image config: diff_id {diff_id}, content {reader.digest()}")
            state.atomic_write_json(tmp / META, {"diff_id": diff_id, "chain_id": chain_id,
                                                 "parent": parent, "size": reader.size})
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
