"""Test images built locally (no registry is reachable): busybox, imported into a store."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from stackup.engine.images.store import Image, ImageStore
from stackup.testing.rootfs import make_busybox_rootfs, tar_directory


def busybox_image(store: ImageStore, ref: str = "stackup.local/busybox:latest",
                  changes: Sequence[str] = ("CMD [\"/bin/sh\"]",)) -> Image:
    """Import a busybox root filesystem into `store` as `ref` and return the image."""
    with tempfile.TemporaryDirectory(prefix="stackup-busybox-") as tmp:
        root = make_busybox_rootfs(Path(tmp) / "rootfs")
        tar_path = tar_directory(root, Path(tmp) / "rootfs.tar")
        return store.import_rootfs(tar_path, ref, list(changes))
