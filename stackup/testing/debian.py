"""A Debian base image for tests of stacks that build FROM debian (the samples).

mmdebstrap takes most of a minute, so the root file system tar is made once a day and
kept under /var/cache/stackup-test/ (the same tar the bootstrap's own test uses); each
test root imports it as `debian:<suite>` with the config `image bootstrap` gives it.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from stackup.engine.images import bootstrap as bs
from stackup.engine.images.progress import Progress
from stackup.engine.images.store import ImageStore

CACHE = Path("/var/cache/stackup-test")


def debian_tar(name: str = "debian:bookworm-slim") -> tuple[Path, list[str]]:
    """Today's root file system tar of `name` and its apt lines (made unless cached)."""
    t = bs.target(name)
    lines = bs.apt_lines(t, bs.debian_mirrors(bs.host_sources()), Progress())
    stem = name.replace(":", "-")
    CACHE.mkdir(parents=True, exist_ok=True)
    tar = CACHE / f"{stem}-{datetime.date.today():%Y%m%d}.tar"
    if not tar.exists():
        for old in CACHE.glob(f"{stem}-*.tar"):
            old.unlink()
        partial = tar.with_suffix(f".{os.getpid()}.partial")
        try:
            bs.make_rootfs(t, lines, partial, Progress())
            partial.rename(tar)
        finally:
            partial.unlink(missing_ok=True)
    return tar, lines


def import_debian(root: Path, name: str = "debian:bookworm-slim") -> None:
    """`name` in the image store of STACKUP_ROOT `root`, as `image bootstrap` makes it."""
    tar, lines = debian_tar(name)
    bs.import_image(ImageStore(root / "images"), bs.target(name), tar, lines)
