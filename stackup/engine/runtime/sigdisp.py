"""Whether a stop signal can have any effect on a container's PID 1.

The kernel drops a signal sent to the PID 1 of a PID namespace from inside or outside
it when that process has no handler for it (SIG_DFL; SIGKILL and SIGSTOP from an
ancestor namespace excepted). So when PID 1 neither catches, nor ignores, nor blocks
the stop signal, waiting the grace period after sending it is pure delay: stop may go
straight to SIGKILL. A blocked signal is kept pending and may meet a handler installed
later, and an ignored one is left to the grace period as Docker does, so both keep it.

The facts come from `/proc/PID/status` as the host sees it: `NSpid` (the pid in each
namespace, innermost last), `SigCgt`, `SigIgn` and `SigBlk` (hex masks, bit n-1 for
signal n). One catch: a process waiting in sigtimedwait/sigwaitinfo (tini, as `init:
true` runs it) blocks the signals it waits for, but while it waits the kernel shows its
mask without them (it keeps the real one aside, unseen in /proc). So a process inside
that system call (`/proc/PID/syscall`, looked at before and after the status) is taken
to act on any signal.
"""

from __future__ import annotations

import os
import signal

MASKS = ("SigCgt", "SigIgn", "SigBlk")


def parse_status(text: str) -> dict[str, str]:
    """The `Key:\tvalue` lines of a /proc/PID/status file."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields


def signal_is_futile(status: dict[str, str], signum: int) -> bool:
    """Whether `signum` sent to the process of this status can do nothing at all: it is
    PID 1 of its own PID namespace and neither catches, ignores nor blocks it. False
    whenever a field is missing or unreadable (then the grace period stays)."""
    if signum in (signal.SIGKILL, signal.SIGSTOP) or not 0 < signum <= 64:
        return False
    nspids = status.get("NSpid", "").split()
    if len(nspids) < 2 or nspids[-1] != "1":  # not PID 1 of a namespace of its own
        return False
    bit = 1 << (signum - 1)
    try:
        masks = [int(status[key], 16) for key in MASKS]
    except (KeyError, ValueError):
        return False
    return not any(mask & bit for mask in masks)


# rt_sigtimedwait by machine (sigwait and sigwaitinfo use it too); elsewhere: unknown.
SIGWAIT_SYSCALLS = {"x86_64": "128", "aarch64": "137", "riscv64": "137"}


def in_sigwait(syscall_line: str, machine: str) -> bool | None:
    """Whether a /proc/PID/syscall line shows the process waiting for signals; None when
    that cannot be told on this machine."""
    number = SIGWAIT_SYSCALLS.get(machine)
    if number is None:
        return None
    return syscall_line.split(" ", 1)[0] == number


def stop_signal_is_futile(pid: int, signum: int) -> bool:
    """`signal_is_futile` for the live process `pid`; False if it cannot be read or it
    may be waiting for signals."""
    machine = os.uname().machine
    try:
        before = _read(f"/proc/{pid}/syscall")
        status = parse_status(_read(f"/proc/{pid}/status"))
        after = _read(f"/proc/{pid}/syscall")
    except OSError:
        return False
    if in_sigwait(before, machine) is not False or in_sigwait(after, machine) is not False:
        return False
    return signal_is_futile(status, signum)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()
