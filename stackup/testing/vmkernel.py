"""Debian's kernel and an initramfs for the VM test tier, made once and cached.

The kernel comes from Debian's package (`linux-image-amd64` names the current one),
unpacked with dpkg-deb; no depmod is needed on the machine: the module index that
busybox's modprobe reads (modules.dep, modules.alias) is written here from each
module's .modinfo section. The initramfs is a static busybox as /init's shell plus the
few modules that mounting the host's root through virtio-9p needs.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("STACKUP_VM_CACHE", "/var/cache/stackup-test/vm"))
BUSYBOX = Path("/bin/busybox")
# what /init loads before it can mount the root: virtio's PCI transport, 9p over
# virtio, and overlayfs for a writable root over the read-only share
BOOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")


@dataclass(frozen=True)
class Kernel:
    version: str
    vmlinuz: Path
    modules: Path  # .../lib/modules/<version>, indexed for modprobe


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One preparer at a time (tests on the machine may share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def kernel(cache: Path = CACHE) -> Kernel:
    """Debian's kernel, downloaded and unpacked into the cache the first time."""
    with _locked(cache / ".lock"):
        debs = sorted(cache.glob("linux-image-*.deb"))
        if not debs:
            subprocess.run(["apt-get", "download", _kernel_package()], cwd=cache, check=True,
                           capture_output=True, timeout=600)
            debs = sorted(cache.glob("linux-image-*.deb"))
        tree = cache / "kernel"
        if not (tree / ".done").exists():
            shutil.rmtree(tree, ignore_errors=True)
            subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tree)], check=True, timeout=600)
            (version,) = os.listdir(tree / "lib/modules")
            index_modules(tree / "lib/modules" / version)
            (tree / ".done").touch()
        (version,) = os.listdir(tree / "lib/modules")
        return Kernel(version, tree / "boot" / f"vmlinuz-{version}", tree / "lib/modules" / version)


def _kernel_package() -> str:
    """The versioned package the metapackage depends on (apt-get download takes no deps)."""
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"Depends: (linux-image-\S+)", out)
    if not found:
        raise RuntimeError(f"no kernel package behind linux-image-amd64: {out!r}")
    return found.group(1)


def modinfo(ko: Path) -> dict[str, list[str]]:
    """key -> values of a module's .modinfo strings ("depends=a,b", "alias=...")."""
    info: dict[str, list[str]] = {}
    for raw in re.findall(rb"(?:^|\0)((?:depends|alias|name)=[^\0]*)", ko.read_bytes()):
        key, _, value = raw.decode(errors="replace").partition("=")
        info.setdefault(key, []).append(value)
    return info


def index_modules(moddir: Path) -> None:
    """modules.dep and modules.alias in the format modprobe reads (as depmod writes)."""
    by_name: dict[str, str] = {}
    infos: dict[str, dict[str, list[str]]] = {}
    for ko in sorted(moddir.rglob("*.ko")):
        rel = str(ko.relative_to(moddir))
        name = ko.name[:-3].replace("-", "_")
        by_name[name] = rel
        infos[rel] = modinfo(ko)
    deps: list[str] = []
    aliases: list[str] = []
    for rel, info in infos.items():
        names = [d for v in info.get("depends", []) for d in v.split(",") if d]
        deps.append(f"{rel}: " + " ".join(by_name[d] for d in _closure(names, by_name, infos)))
        name = Path(rel).name[:-3].replace("-", "_")
        aliases.extend(f"alias {a} {name}" for a in info.get("alias", []))
    (moddir / "modules.dep").write_text("\n".join(deps) + "\n")
    (moddir / "modules.alias").write_text("\n".join(aliases) + "\n")


def _closure(names: list[str], by_name: dict[str, str],
             infos: dict[str, dict[str, list[str]]]) -> list[str]:
    """Dependencies, each after those it needs in turn reversed (depmod's order: the
    module loaded last comes first)."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name not in by_name:
            return
        for dep in (d for v in infos[by_name[name]].get("depends", []) for d in v.split(",")):
            if dep:
                visit(dep)
        order.append(name)

    for name in names:
        visit(name)
    return list(reversed(order))


def load_order(k: Kernel, names: tuple[str, ...] = BOOT_MODULES) -> list[str]:
    """The module files for `names` and everything they need, dependencies first."""
    dep = {}
    for line in (k.modules / "modules.dep").read_text().splitlines():
        rel, _, rest = line.partition(":")
        dep[Path(rel).name[:-3].replace("-", "_")] = (rel, rest.split())
    order: list[str] = []
    for name in names:
        rel, needs = dep[name]
        for path in [*reversed(needs), rel]:
            if path not in order:
                order.append(path)
    return order


INIT = """#!/bin/busybox sh
# Mount the host's / (read-only 9p) under a tmpfs overlay and switch to it.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /$m || echo "insmod $m failed"; done
mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /lower
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work root /newroot
mkdir -p /newroot/vmout
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /newroot/vmout
umount /proc
exec switch_root /newroot /bin/sh /vmout/stage2.sh
"""


def initramfs(k: Kernel, cache: Path = CACHE) -> Path:
    """An initramfs (newc cpio) for `k`, cached by its content."""
    order = load_order(k)
    key = hashlib.sha256("\n".join([k.version, INIT, *order]).encode()
                         + BUSYBOX.read_bytes()).hexdigest()[:16]
    dest = cache / f"initramfs-{k.version}-{key}.cpio"
    with _locked(cache / ".lock"):
        if dest.exists():
            return dest
        files: list[tuple[str, int, bytes]] = [
            ("init", 0o100755, INIT.encode()),
            ("bin/busybox", 0o100755, BUSYBOX.read_bytes()),
            ("modules.order", 0o100644, "\n".join(order).encode() + b"\n"),
        ]
        files += [(rel, 0o100644, (k.modules / rel).read_bytes()) for rel in order]
        tmp = dest.with_suffix(".tmp")
        tmp.write_bytes(cpio(files))
        tmp.rename(dest)
    return dest


def cpio(files: list[tuple[str, int, bytes]]) -> bytes:
    """A newc cpio archive of (path, mode, content), with the folders each path needs."""
    entries: list[tuple[str, int, bytes]] = []
    seen: set[str] = set()
    for path, mode, data in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder not in seen:
                seen.add(folder)
                entries.append((folder, 0o40755, b""))
        for folder in ("dev", "proc", "sys"):
            if folder not in seen:
                seen.add(folder)
                entries.append((folder, 0o40755, b""))
        entries.append((path, mode, data))
    out = bytearray()
    for ino, (path, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        name = path.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + name
        out += b"\0" * (-(110 + len(name)) % 4) + data + b"\0" * (-len(data) % 4)
    return bytes(out)
