"""The build cache: what each step made, found again by the step's key, and cache mounts.

    build/cache/<key hex>.json    one step's result: its layer (or none), when it ran, what it was
    build/mounts/<id hex>/        a RUN --mount=type=cache folder, kept across builds

A step's key is a digest of everything its result depends on (see `step_key`); equal keys
mean an equal result, so a hit reuses the layer without running anything. The layers a
record names stay pinned in the image store (so an image prune or gc keeps them) until the
record is pruned. A record is written only after its layer is stored, atomically, so a killed
build leaves either a whole record or none; a record whose layer has gone is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stackup.engine import state
from stackup.engine.build.model import LayerRef
from stackup.engine.images.store import ImageStore

PIN_OWNER = "build-cache"


def step_key(*parts: Any) -> str:
    """The digest of a step's inputs, given as JSON-able values (order matters)."""
    data = json.dumps(parts, separators=(",", ":"), sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


@dataclass(frozen=True)
class CacheRecord:
    key: str
    layer: LayerRef | None
    created: str  # RFC 3339, when the step ran: the image's history and `created` reuse it
    description: str  # "RUN apt-get install ..." (for `builder du`)


@dataclass(frozen=True)
class CacheEntry:
    """One line of `builder du`."""

    id: str
    kind: str  # regular | exec.cachemount
    size: int
    last_used: float  # epoch seconds
    description: str


def root() -> Path:
    return state.root() / "build"


class BuildCache:
    def __init__(self, store: ImageStore, base: Path | None = None):
        self.store = store
        self.base = base if base is not None else root()
        self.records = self.base / "cache"
        self.mounts = self.base / "mounts"

    # --- step records ------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.records / (key.split(":", 1)[1] + ".json")

    def get(self, key: str) -> CacheRecord | None:
        """The record of `key` if its layer is still whole in the store, else None."""
        path = self._path(key)
        try:
            data = json.loads(path.read_bytes())
            layer = LayerRef(**data["layer"]) if data.get("layer") else None
            record = CacheRecord(key, layer, str(data["created"]), str(data.get("description", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or damaged: a miss, rewritten by this build
        if layer is not None and not (self.store.layers.has(layer.chain_id)
                                      and self.store.blobs.has(layer.blob)):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # last used, for `builder du` and prune's order
        return record

    def put(self, key: str, layer: LayerRef | None, description: str, created: str) -> CacheRecord:
        record = CacheRecord(key, layer, created, description)
        if layer is not None:
            self.store.pin(PIN_OWNER, key.split(":", 1)[1], [layer.blob], [layer.chain_id])
        state.ensure_dir(self.records, 0o700)
        state.atomic_write_json(self._path(key), {
            "layer": asdict(layer) if layer else None, "created": created,
            "description": description[:200]})
        return record

    def _records(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        if not self.records.is_dir():
            return
        for path in sorted(self.records.glob("*.json")):
            try:
                yield path, json.loads(path.read_bytes())
            except (OSError, ValueError):
                yield path, {}

    # --- cache mounts ------------------------------------------------------------------

    def mount_dir(self, mount_id: str) -> Path:
        """The folder of a cache mount (made on first use; the caller sets its owner and mode)."""
        name = hashlib.sha256(mount_id.encode()).hexdigest()[:32]
        path = self.mounts / name
        state.ensure_dir(self.mounts, 0o700)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o755)
            (self.mounts / (name + ".id")).write_text(mount_id)
        return path

    # --- du and prune ------------------------------------------------------------------

    def usage(self) -> list[CacheEntry]:
        entries = []
        for path, data in self._records():
            layer = data.get("layer") or {}
            entries.append(CacheEntry(path.stem[:12], "regular", int(layer.get("size", 0)),
                                      path.stat().st_mtime, str(data.get("description", ""))))
        if self.mounts.is_dir():
            for folder in sorted(p for p in self.mounts.iterdir() if p.is_dir()):
                ident = self.mounts / (folder.name + ".id")
                what = ident.read_text() if ident.exists() else folder.name
                entries.append(CacheEntry(folder.name[:12], "exec.cachemount", _tree_size(folder),
                                          folder.stat().st_mtime, f"mount / from exec {what}"))
        return entries

    def prune(self, all_entries: bool = True, older_than: float | None = None) -> tuple[int, int]:
        """Remove records (and their pins) and cache mounts; (entries removed, bytes freed).

        Without `all_entries`, only what no image in the store uses is removed (as
        `docker builder prune` keeps what images still need)."""
        before = self.store.disk_usage()
        in_images = set() if all_entries else {c for im in self.store.list() for c in im.chain_ids}
        cutoff = time.time() - older_than if older_than else None
        removed, freed = 0, 0
        for path, data in self._records():
            if cutoff is not None and path.stat().st_mtime > cutoff:
                continue
            chain = (data.get("layer") or {}).get("chain_id")
            if chain and chain in in_images:
                continue
            self.store.unpin(PIN_OWNER, path.stem)
            path.unlink(missing_ok=True)
            removed += 1
        if self.mounts.is_dir():
            for folder in [p for p in self.mounts.iterdir() if p.is_dir()]:
                if cutoff is not None and folder.stat().st_mtime > cutoff:
                    continue
                freed += _tree_size(folder)
                shutil.rmtree(folder, ignore_errors=True)
                (self.mounts / (folder.name + ".id")).unlink(missing_ok=True)
                removed += 1
        self.store.gc()
        return removed, freed + max(0, before - self.store.disk_usage())


def _tree_size(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def prune(all_entries: bool = True) -> tuple[int, int]:
    return BuildCache(ImageStore()).prune(all_entries)


def usage() -> list[CacheEntry]:
    return BuildCache(ImageStore()).usage()
