"""What resolving the mount plan's paths inside the root costs: medians over several runs.

1. `securejoin.resolve_in_root` (lstat/readlink per component, what the plan uses) on a
   few typical paths of a plan, plain and through links.
2. The kernel's own `openat2(RESOLVE_IN_ROOT)` (Linux >= 5.6, through ctypes) on the
   same paths: open O_PATH + close, with the root's fd kept open.
3. `securejoin.pin` (O_PATH open, /proc/self/fd check, close): what each mount adds.
4. All the in-root paths of a real plan (tty, init, two user mounts) resolved once, as
   `rootfs.apply` does on every start.

Usage: .venv/bin/python bench/runtime_securejoin.py [--runs N]   (no root needed)
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stackup.engine.runtime import rootfs  # noqa: E402
from stackup.engine.runtime.securejoin import pin, resolve_in_root, resolved  # noqa: E402
from stackup.engine.runtime.spec import ContainerSpec, Mount  # noqa: E402

PATHS = ["/etc/hostname", "/dev/pts/ptmx", "/sys/fs/cgroup/memory", "/hostroot/etc/hosts",
         "/abs_etc/resolv.conf", "/usr/local/lib/app/data/cache"]
SYS_OPENAT2 = 437  # the same number on x86_64 and arm64
RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS = 0x10, 0x02


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def make_tree(root: Path) -> None:
    for d in ("etc", "dev/pts", "sys/fs/cgroup/memory", "usr/local/lib/app/data"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in ("etc/hostname", "etc/hosts", "etc/resolv.conf", "dev/pts/ptmx"):
        (root / f).touch()
    os.symlink("/", root / "hostroot")
    os.symlink("/etc", root / "abs_etc")


def per_call_us(fn, paths: list[str], runs: int, loops: int = 2000) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(loops):
            for p in paths:
                fn(p)
        samples.append((time.perf_counter() - t0) / (loops * len(paths)))
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="securejoin-bench-") as tmp:
        root = Path(tmp) / "rootfs"
        make_tree(root)
        r = str(root)
        print(f"resolve_in_root (Python, lstat per component): "
              f"{per_call_us(lambda p: resolve_in_root(r, p), PATHS, args.runs):6.2f} us/path")

        libc = ctypes.CDLL(None, use_errno=True)
        root_fd = os.open(r, os.O_PATH | os.O_DIRECTORY)
        how = OpenHow(os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

        def openat2(p: str) -> None:
            fd = libc.syscall(SYS_OPENAT2, root_fd, p.encode(), ctypes.byref(how),
                              ctypes.sizeof(how))
            if fd >= 0:
                os.close(fd)
            elif ctypes.get_errno() != 2:
                raise OSError(ctypes.get_errno(), "openat2", p)

        existing = [p for p in PATHS if os.path.lexists(resolve_in_root(r, p))]
        try:
            openat2(existing[0])
            print(f"openat2 RESOLVE_IN_ROOT (ctypes, O_PATH + close):  "
                  f"{per_call_us(openat2, existing, args.runs):6.2f} us/path")
        except OSError as exc:
            print(f"openat2 RESOLVE_IN_ROOT: not available here ({exc})")
        print(f"resolve_in_root on the same existing paths:      "
              f"{per_call_us(lambda p: resolve_in_root(r, p), existing, args.runs):6.2f} us/path")
        os.close(root_fd)
        targets = {p: resolved(r, p) for p in existing}
        pinned = per_call_us(lambda p: os.close(pin(targets[p])), existing, args.runs)
        print(f"pin + close (per mount):                          {pinned:6.2f} us/path")

        spec = ContainerSpec(layers=["/l"], argv=["sh"], tty=True, init=True, init_path="/i",
                             mounts=[Mount(type="bind", source="/", target="/hostroot/data"),
                                     Mount(type="tmpfs", target="/usr/local/lib/app/data")])
        paths = rootfs.RootPaths(rootfs=r, upper="/u", work="/w", hostname="/h", hosts="/hs",
                                 resolv_conf="/rc", console="/dev/pts/0")
        plan = rootfs.plan_before_pivot(spec, paths, [("cgroup", "memory"), ("cgroup", "pids")],
                                        lambda p: True)
        in_root = [a for s in plan for a in s.args if isinstance(a, rootfs.InRoot)]
        samples = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            for _ in range(200):
                for a in in_root:
                    a.resolve()
            samples.append((time.perf_counter() - t0) / 200)
        print(f"a whole plan ({len(in_root)} in-root paths) resolved once: "
              f"{statistics.median(samples) * 1e3:6.3f} ms per start")


if __name__ == "__main__":
    main()
