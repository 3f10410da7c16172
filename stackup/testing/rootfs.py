"""Tiny root filesystems for tests and samples, made from Debian's busybox-static.

No registry is reachable from these machines, so tests build their images from a
statically linked busybox: one binary, a symlink per applet, and the few files in
/etc that user and group resolution need.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
"""

GROUP = """root:x:0:
daemon:x:1:
www-data:x:33:
users:x:100:app
nogroup:x:65534:
app:x:1000:
"""


def busybox_applets(busybox: Path = BUSYBOX) -> list[str]:
    out = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True)
    return [name for name in out.stdout.split() if name and name != "busybox"]


def make_busybox_rootfs(dest: Path, busybox: Path = BUSYBOX) -> Path:
    """Fill `dest` with a minimal busybox root filesystem and return it."""
    if not busybox.exists():
        raise FileNotFoundError(f"{busybox} is missing: install Debian's busybox-static")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "proc", "sys",
              "dev", "home/app", "var/www", "www", "run"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    shutil.copy2(busybox, dest / "bin" / "busybox")
    for applet in busybox_applets(busybox):
        link = dest / "bin" / applet
        if not link.exists() and not link.is_symlink():
            link.symlink_to("busybox")
    (dest / "etc" / "passwd").write_text(PASSWD)
    (dest / "etc" / "group").write_text(GROUP)
    (dest / "etc" / "hostname").write_text("localhost\n")
    return dest


def tar_directory(src: Path, tar_path: Path) -> Path:
    """Write `src`'s contents (not `src` itself) to an uncompressed tar with numeric owners."""
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for child in sorted(src.iterdir()):
            tar.add(child, arcname=child.name)
    return tar_path
