"""The default security profile: capabilities, no_new_privileges, seccomp.

Capabilities are Docker's default 14. Seccomp is Docker's default profile (an allow
list, `seccomp.py`), loaded through libseccomp with ctypes because the venv's Python
cannot import Debian's python3-seccomp.
"""

from __future__ import annotations

from stackup.errors import UserError

CAPABILITIES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]

DOCKER_DEFAULT_CAPS = [
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
]


def cap_number(name: str) -> int:
    """'NET_ADMIN', 'CAP_NET_ADMIN' or 'net_admin' -> its number."""
    key = name.upper().removeprefix("CAP_")
    if key == "ALL":
        return -1
    try:
        return CAPABILITIES.index(key)
    except ValueError:
        raise UserError(f"unknown capability {name!r}") from None


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAPABILITIES) - 1


def capability_set(cap_add: list[str], cap_drop: list[str], privileged: bool) -> list[str]:
    """The container's capabilities, Docker's way: defaults, minus drops, plus adds."""
    everything = CAPABILITIES[: last_cap() + 1]
    if privileged:
        return list(everything)
    adds = {n.upper().removeprefix("CAP_") for n in cap_add}
    drops = {n.upper().removeprefix("CAP_") for n in cap_drop}
    caps = [] if "ALL" in drops else [c for c in DOCKER_DEFAULT_CAPS if c not in drops]
    source = everything if "ALL" in adds else sorted(adds, key=cap_number)
    for cap in source:
        if cap not in caps and cap != "ALL":
            caps.append(cap)
    return caps


def cap_mask(caps: list[str]) -> int:
    mask = 0
    for cap in caps:
        mask |= 1 << cap_number(cap)
    return mask


def libseccomp():
    """libseccomp, opened once (before pivot_root). The filter itself: `seccomp.py`."""
    from stackup.engine.runtime import seccomp

    return seccomp.libseccomp()


def prepare_seccomp(caps: list[str], cache_dir: str) -> None:
    """Before pivot_root: the compiled filter for `caps`, from the cache when there."""
    from stackup.engine.runtime import seccomp

    seccomp.prepare(caps, cache_dir)


def load_seccomp(caps: list[str]) -> None:
    """Docker's default seccomp profile for a container with `caps`, in this process."""
    from stackup.engine.runtime import seccomp

    seccomp.load(caps)
