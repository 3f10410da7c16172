"""Test images built locally (no registry is reachable): busybox, imported into a store."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from stackup.engine.images.store import Image, ImageStore
from stackup.testing.rootfs import make_busybox_rootfs, tar_directory


BUSYBOX_REF = "stackup.local/busybox:latest"
BUSYBOX_CHANGES = ('CMD ["/bin/sh"]',)


def busybox_rootfs_tar(folder: Path) -> Path:
    """The busybox root filesystem as a tar in `folder` (what busybox_image imports; a
    peer engine given the same tar with `docker import -c` starts from the same image)."""
    root = make_busybox_rootfs(folder / "rootfs")
    return tar_directory(root, folder / "rootfs.tar")


def busybox_image(store: ImageStore, ref: str = BUSYBOX_REF,
                  changes: Sequence[str] = BUSYBOX_CHANGES) -> Image:
    """Import a busybox root filesystem into `store` as `ref` and return the image."""
    with tempfile.TemporaryDirectory(prefix="stackup-busybox-") as tmp:
        return store.import_rootfs(busybox_rootfs_tar(Path(tmp)), ref, list(changes))
