"""The default security profile: capabilities, no_new_privileges, seccomp.

Capabilities are Docker's default 14. Seccomp follows Docker's default profile: the
syscalls that profile does not allow get EPERM (implemented here as an explicit
deny list over libseccomp, loaded through ctypes because the venv's Python cannot
import Debian's python3-seccomp), with the same capability-dependent exceptions.
"""

from __future__ import annotations

import ctypes
import errno

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


# Syscalls Docker's default profile does not allow for a default container (on kernels
# >= 4.8, where Docker allows ptrace, kcmp and process_vm_*: the kernel's own checks and
# the missing SYS_PTRACE capability confine them). Those in BY_CAP become allowed when
# the container has that capability, as Docker does.
DENIED = [
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
    "delete_module", "finit_module", "fanotify_init", "fsconfig", "fsmount", "fsopen",
    "fspick", "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount",
    "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
    "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root",
    "query_module", "quotactl",
    "quotactl_fd", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday",
    "stime", "swapoff", "swapon", "sysfs", "_sysctl", "syslog", "umount", "umount2",
    "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
]
BY_CAP = {
    "SYS_ADMIN": ["bpf", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                  "lookup_dcookie", "mount", "mount_setattr", "move_mount",
                  "name_to_handle_at", "open_tree", "perf_event_open", "quotactl",
                  "quotactl_fd", "setns", "syslog", "umount", "umount2", "unshare"],
    "SYS_BOOT": ["reboot"],
    "SYS_MODULE": ["delete_module", "init_module", "finit_module"],
    "SYS_RAWIO": ["ioperm", "iopl"],
    "SYS_TIME": ["clock_adjtime", "clock_settime", "settimeofday", "stime"],
    "SYS_NICE": ["get_mempolicy", "mbind", "set_mempolicy"],
    "SYSLOG": ["syslog"],
    "BPF": ["bpf"],
    "PERFMON": ["perf_event_open"],
    "DAC_READ_SEARCH": ["open_by_handle_at"],
    "SYS_PACCT": ["acct"],
}
# Unlike Docker, personality(2) is allowed whatever its argument: libseccomp cannot say
# "arg0 not in {...}" in one rule, and the personas Docker refuses only weaken ASLR.
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7


def seccomp_denied(caps: list[str]) -> list[str]:
    allowed = {name for cap in caps for name in BY_CAP.get(cap, [])}
    return [name for name in DENIED if name not in allowed]


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


_LIB: list[ctypes.CDLL] = []


def libseccomp() -> ctypes.CDLL:
    """libseccomp, opened once; call before pivot_root (the host's library is out of reach
    afterwards)."""
    if not _LIB:
        _LIB.append(ctypes.CDLL("libseccomp.so.2", use_errno=True))
    return _LIB[0]


def load_seccomp(caps: list[str]) -> None:
    """Install the filter in this process (inherited by exec). Raises OSError on failure."""
    lib = libseccomp()
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init failed")
    eperm = _act_errno(errno.EPERM)

    def rule(action: int, name: str, *cmps: _ArgCmp) -> None:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:  # not a syscall on this architecture
            return
        arr = (_ArgCmp * max(1, len(cmps)))(*cmps)
        rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
        if rc < 0:
            raise OSError(-rc, f"seccomp rule for {name}: {errno.errorcode.get(-rc, rc)}")

    try:
        denied = seccomp_denied(caps)
        for name in denied:
            rule(eperm, name)
        if "SYS_ADMIN" not in caps:
            # clone with namespace flags is refused; clone3 cannot be filtered on its
            # flags (they are behind a pointer), so it reports ENOSYS and libc falls back.
            for bit in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000,
                        0x20000000, 0x40000000):
                rule(eperm, "clone", _ArgCmp(0, SCMP_CMP_MASKED_EQ, bit, bit))
            rule(_act_errno(errno.ENOSYS), "clone3")
        rc = lib.seccomp_load(ctx)
        if rc < 0:
            raise OSError(-rc, "seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)
