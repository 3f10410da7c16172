"""Run a command as root on a real cgroup v2 kernel: Debian's kernel under QEMU.

The guest's root is the host's own / shared read-only through virtio-9p, under a tmpfs
overlay (so the guest may write anywhere, and nothing reaches the host); one host folder
is shared writable for the results. /init (busybox, in the initramfs) mounts them and
switches to the overlay; stage2.sh then mounts /proc, /sys, cgroup2, /dev and tmpfs
folders, runs the command and powers off. QEMU runs under a hard timeout: a guest that
hangs is killed, never waited for.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stackup.testing import vmkernel

QEMU = "qemu-system-x86_64"
MEMORY_MB = 2048

STAGE2 = """#!/bin/sh
set -x
# Inside the guest, on the overlay root: the mounts a normal boot makes, then the command.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for d in /tmp /run /var/tmp; do mount -t tmpfs -o mode=0755 tmpfs $d; done
chmod 1777 /tmp /var/tmp
# the kernel's modules, for modprobe (the kernel asks for bridge, veth, nf_tables...)
mkdir -p /lib/modules/{version}
mount --bind {modules} /lib/modules/{version}
ln -sf /bin/busybox /sbin/modprobe
echo /sbin/modprobe > /proc/sys/kernel/modprobe
hostname stackup-vm
ip link set lo up
echo "stackup-vm: up after $(cut -d' ' -f1 /proc/uptime)s"
cd {cwd}
( {command} ) > /vmout/output.log 2>&1
echo $? > /vmout/exit-code
echo "stackup-vm: done after $(cut -d' ' -f1 /proc/uptime)s"
sync
/bin/busybox poweroff -f
"""


@dataclass
class Run:
    exit_code: int | None  # None: the command did not finish (timeout, crash)
    output: str            # the command's stdout and stderr
    console: str           # the guest's serial console (kernel messages, boot steps)
    seconds: float
    accel: str


def available() -> str | None:
    """Why the VM cannot run here, or None when it can."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed (Debian package qemu-system-x86)"
    if os.geteuid() != 0:
        return "the VM tier needs root (it shares / through 9p and runs the tests as root)"
    return None


def accelerators() -> list[str]:
    """KVM when asked for and present (STACKUP_VM_ACCEL=kvm), else software emulation:
    KVM hung on repeated boots on these machines, TCG always works."""
    wanted = os.environ.get("STACKUP_VM_ACCEL", "tcg")
    if wanted == "kvm" and os.access("/dev/kvm", os.R_OK | os.W_OK):
        return ["kvm", "tcg"]
    return ["tcg"]


def run(command: str, out: Path, cwd: Path, timeout: float, cpus: int = 2) -> Run:
    """Boot, run `command` (sh syntax) as root in `cwd`, power off. `out` is shared
    writable; the command may leave files there."""
    k = vmkernel.kernel()
    initrd = vmkernel.initramfs(k)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stage2.sh").write_text(STAGE2.format(
        version=k.version, modules=shlex.quote(str(k.modules)), cwd=shlex.quote(str(cwd)),
        command=command))
    result = Run(None, "", "", 0.0, "")
    for accel in accelerators():
        result = _boot(k, initrd, out, timeout, cpus, accel)
        if result.exit_code is not None:
            break
    return result


def _boot(k: vmkernel.Kernel, initrd: Path, out: Path, timeout: float, cpus: int,
          accel: str) -> Run:
    for name in ("exit-code", "output.log", "console.log"):
        (out / name).unlink(missing_ok=True)
    cmdline = "console=ttyS0 panic=-1 quiet loglevel=4"
    argv = [QEMU, "-accel", accel, "-cpu", "host" if accel == "kvm" else "max",
            "-smp", str(cpus), "-m", str(MEMORY_MB), "-kernel", str(k.vmlinuz),
            "-initrd", str(initrd), "-append", cmdline, "-no-reboot", "-nodefaults",
            "-display", "none", "-monitor", "none",
            "-serial", f"file:{out / 'console.log'}",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={out},mount_tag=out,security_model=none"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        qemu_says, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # our own qemu, by its pid
        qemu_says, _ = proc.communicate()
        qemu_says += f"\n[killed after {timeout:.0f}s]".encode()
    finally:  # whatever interrupts the wait (pytest's own timeout, ^C), no qemu outlives it
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seconds = time.monotonic() - started
    code = (out / "exit-code").read_text().strip() if (out / "exit-code").exists() else ""
    console = _text(out / "console.log") + qemu_says.decode(errors="replace")
    return Run(int(code) if code.isdigit() else None, _text(out / "output.log"), console,
               seconds, accel)


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
