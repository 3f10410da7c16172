"""Unpacked layers, one directory per chain ID, shared by every image that has them.

    layers/<chain hex>/diff        the layer's files (an overlayfs lower directory)
    layers/<chain hex>/layer.json  diff_id, chain_id, parent, size

A layer is unpacked into `layers/.tmp-*`, its diff_id checked, `layer.json` (the
marker) written next to its files, all of it flushed to disk (one syncfs), and only
then the whole directory is renamed into place. So a crash (even a power
cut), a corrupt blob or a full disk leaves nothing half-made under a real name,
and a directory without its marker is never used: the next command that adds to
the store (or a gc) sweeps `.tmp-*` leftovers and marker-less directories away.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from stackup.engine import checkedjson, state
from stackup.engine.images import digest as dg
from stackup.engine.images.diskio import mark_hierarchy_top, syncfs
from stackup.engine.images.errors import DigestMismatchError, ImageError

META = "layer.json"
LEFTOVER_PREFIXES = (".tmp-", ".del-")


class LayerStore:
    def __init__(self, root: Path):
        self.root = root
        self._root_ready = False

    def dir(self, chain_id: str) -> Path:
        return self.root / dg.hex_of(chain_id)

    def path(self, chain_id: str) -> Path:
        """The unpacked files of the layer (what overlayfs stacks)."""
        return self.dir(chain_id) / "diff"

    def has(self, chain_id: str) -> bool:
        return (self.dir(chain_id) / META).is_file()

    def meta(self, chain_id: str) -> dict:
        """The layer's record ({} when it has none); a damaged one is an error naming it."""
        meta = checkedjson.read(str(self.dir(chain_id) / META),
                                lambda value: checkedjson.object_with({}, None, value))
        return meta if isinstance(meta, dict) else {}

    def chain_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return ["sha256:" + e.name for e in os.scandir(self.root)
                if dg.DIGEST_RE.fullmatch("sha256:" + e.name)]

    def unpack(self, blob: Path, diff_id: str, chain_id: str, parent: str | None,
               what: str = "layer", blob_digest: str | None = None,
               batch: LayerBatch | None = None) -> bool:
        """Unpack `blob` as layer `chain_id` unless it is already there; True if unpacked now.

        `blob_digest`: the digest the blob store verified `blob` against. An
        uncompressed blob whose digest is the diff_id needs no second hash, and its
        files are copied by the kernel. With `batch`, the checked layer waits in its
        temporary directory to be installed with the rest of the batch.
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
                return self._install(chain_id, diff_id, parent, what, fill, batch)
            return self.unpack_stream(raw, diff_id, chain_id, parent, what, batch=batch)

    def unpack_stream(self, raw, diff_id: str, chain_id: str, parent: str | None, what: str = "layer",
                      finish: Callable[[], None] | None = None, batch: LayerBatch | None = None) -> bool:
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
        return self._install(chain_id, diff_id, parent, what, fill, batch)

    def adopt(self, folder: Path, diff_id: str, chain_id: str, parent: str | None, size: int) -> bool:
        """Install `folder` (a layer's files, made on this store's filesystem, e.g. a build
        step's overlay upper) as layer `chain_id` by renaming it: no copy. The caller vouches
        for `diff_id` (it made the layer's tar from these files). True when installed; False
        when the layer was there already, and `folder` is removed.

        An OSError (EXDEV: `folder` is on another filesystem) leaves `folder` where it was."""
        if self.has(chain_id):
            shutil.rmtree(folder)
            return False
        import tempfile  # (imported on use, as in _install)

        self._ensure_root()
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            os.rename(folder, tmp / "diff")
        except OSError:
            os.rmdir(tmp)
            raise
        meta = {"diff_id": diff_id, "chain_id": chain_id, "parent": parent, "size": size}
        with LayerBatch(self) as batch:
            batch.add(tmp, meta)  # removed by the batch unless installed
            return batch.install() == 1

    def _install(self, chain_id: str, diff_id: str, parent: str | None, what: str,
                 fill: Callable[[Path], tuple[str, int]], batch: LayerBatch | None = None) -> bool:
        """Fill a temporary directory, check the diff_id, then install it (or hand it to `batch`)."""
        if self.has(chain_id):
            return False
        import tempfile  # imported on use: `up` of images already here writes no layer

        self._ensure_root()
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        left: Path | None = tmp  # removed at the end unless handed over
        try:
            (tmp / "diff").mkdir(mode=0o755)
            digest, size = fill(tmp / "diff")
            if digest != diff_id:
                raise DigestMismatchError(
                    f"{what} does not match the image config: diff_id {diff_id}, content {digest}")
            meta = {"diff_id": diff_id, "chain_id": chain_id, "parent": parent, "size": size}
            if batch is not None:
                batch.add(tmp, meta)
                left = None  # the batch owns it now
                return True
            with LayerBatch(self) as alone:
                alone.add(tmp, meta)
                left = None
                return alone.install() == 1
        except OSError as exc:
            raise ImageError(f"cannot unpack {what}: {exc.strerror or exc}") from exc
        finally:
            if left is not None:
                with contextlib.suppress(FileNotFoundError):
                    shutil.rmtree(left)

    def prepare(self) -> None:
        """Make the layers directory now, e.g. before forking the processes that fill it."""
        self._ensure_root()

    def _ensure_root(self) -> None:
        """Make the layers directory; each layer directory made in it gets its own block group."""
        if not self._root_ready:
            self.root.mkdir(parents=True, exist_ok=True)
            mark_hierarchy_top(self.root)
            self._root_ready = True

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
        import tempfile  # (imported on use, as in _install)

        doomed = Path(tempfile.mkdtemp(prefix=".del-", dir=self.root))
        os.rename(src, doomed / "x")
        shutil.rmtree(doomed)


class LayerBatch:
    """Checked layers waiting in their temporary directories, installed together.

    A pull unpacks its layers in parallel and installs them with one syncfs: the
    files and the marker of every layer reach the disk, then each directory is renamed
    into place (a temporary directory is never used, so its marker needs no fsync of
    its own before that syncfs). Whatever is not installed when the batch closes is
    removed.
    """

    def __init__(self, layers: LayerStore):
        self.layers = layers
        self._pending: list[tuple[Path, dict]] = []
        self._lock = threading.Lock()

    def add(self, tmp: Path, meta: dict) -> None:
        """Take a checked layer in `tmp`; its marker is written now, made durable by install()."""
        with open(tmp / META, "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write("\n")
        with self._lock:
            self._pending.append((tmp, meta))

    def take(self) -> list[tuple[Path, dict]]:
        """Hand the pending layers over (to another process's batch: see adopt)."""
        with self._lock:
            pending, self._pending = self._pending, []
        return pending

    def adopt(self, pending: list[tuple[Path, dict]]) -> None:
        """Take layers another batch added (their markers written), e.g. in a child process."""
        with self._lock:
            self._pending += pending

    def install(self) -> int:
        """Install every pending layer; returns how many were renamed into place (a layer
        another process installed first is dropped)."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return 0
        installed = 0
        try:
            # Files and markers reach the disk before any directory is renamed into place.
            syncfs(self.layers.root)
            while pending:
                tmp, meta = pending[0]
                if self.layers._rename_into_place(tmp, meta["chain_id"]):
                    installed += 1
                else:
                    shutil.rmtree(tmp, ignore_errors=True)
                pending.pop(0)
            state.fsync_dir(self.layers.root)
        except OSError as exc:
            raise ImageError(f"cannot install layers: {exc.strerror or exc}") from exc
        finally:
            for tmp, _ in pending:
                shutil.rmtree(tmp, ignore_errors=True)
        return installed

    def discard(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for tmp, _ in pending:
            shutil.rmtree(tmp, ignore_errors=True)

    def __enter__(self) -> LayerBatch:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()
