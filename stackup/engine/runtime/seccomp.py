"""The seccomp filter: Docker's default profile, as data, loaded through libseccomp (ctypes).

An allow list: every system call not allowed below fails with EPERM. On top of the
plain list, rules that depend on arguments (personality's personas, clone without
namespace flags, socket except AF_VSOCK) and groups allowed only with a capability
(SYS_ADMIN allows mount, unshare, setns, sethostname...). Names that libseccomp or this
architecture do not know are skipped, so the table can name every architecture's calls.
Only the native architecture is in the filter: a 32-bit (int 0x80) call is refused.
"""

from __future__ import annotations

import ctypes
import errno
import os

# Allowed for every container (Docker's first group).
ALLOWED = """
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents
getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32
getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat
listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2
mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat
_newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc
pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq
rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget
semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer
setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32
setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack
signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs
statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
process_vm_readv process_vm_writev ptrace
arch_prctl modify_ldt
""".split()  # the last line: Docker's x86 group; ptrace & co: its kernel >= 4.8 group

# Groups allowed only with a capability (Docker's `includes: caps`).
BY_CAPABILITY = {
    "SYS_ADMIN": """bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick
                    lookup_dcookie mount mount_setattr move_mount open_tree perf_event_open
                    quotactl quotactl_fd setdomainname sethostname setns syslog umount
                    umount2 unshare""".split(),
    "DAC_READ_SEARCH": ["open_by_handle_at"],
    "SYS_BOOT": ["reboot"],
    "SYS_CHROOT": ["chroot"],
    "SYS_MODULE": ["delete_module", "init_module", "finit_module"],
    "SYS_PACCT": ["acct"],
    "SYS_PTRACE": ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                   "process_vm_writev", "ptrace"],
    "SYS_RAWIO": ["iopl", "ioperm"],
    "SYS_TIME": ["settimeofday", "stime", "clock_settime", "clock_settime64"],
    "SYS_TTY_CONFIG": ["vhangup"],
    "SYS_NICE": ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"],
    "SYSLOG": ["syslog"],
    "BPF": ["bpf"],
    "PERFMON": ["perf_event_open"],
}

# libseccomp comparison operators (seccomp.h enum scmp_compare).
NE, EQ, MASKED_EQ = 1, 4, 7
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}
AF_VSOCK = 40

# Argument-conditional rules: (name, [(arg index, op, a, b)], action, unless capability).
# Several rules for one name are alternatives (any one allows the call).
ALLOW, ENOSYS = "allow", "enosys"
CONDITIONAL = [
    ("socket", [(0, NE, AF_VSOCK, 0)], ALLOW, None),
    *[("personality", [(0, EQ, persona, 0)], ALLOW, None)
      for persona in (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)],  # linux, +UNAME26, +ADDR_NO_RANDOMIZE, query
    ("clone", [(0, MASKED_EQ, NAMESPACE_FLAGS, 0)], ALLOW, "SYS_ADMIN"),  # no new namespaces
    ("clone3", [], ENOSYS, "SYS_ADMIN"),  # its flags sit behind a pointer: libc falls back to clone
]


def rules(caps: list[str]) -> list[tuple[str, list[tuple[int, int, int, int]], str]]:
    """The filter for a container with capabilities `caps`: (name, conditions, action),
    on top of the default action EPERM. Pure data, so it is unit-tested without a kernel."""
    capset = {c.upper().removeprefix("CAP_") for c in caps}
    allowed = list(ALLOWED)
    for cap, names in BY_CAPABILITY.items():
        if cap in capset:
            allowed += [n for n in names if n not in allowed]
    out: list[tuple[str, list[tuple[int, int, int, int]], str]] = [
        (name, [], ALLOW) for name in allowed]
    for name, conds, action, unless in CONDITIONAL:
        if name in allowed or (unless and unless in capset):
            continue
        out.append((name, list(conds), action))
    return out


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


SCMP_ACT_ALLOW = 0x7FFF0000
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
_LIBSECCOMP_PATH = "libseccomp.so.2"
SCMP_FLTATR_CTL_NNP = 3  # libseccomp sets no_new_privs unless told not to
NR_SCMP_ERROR = -1


def act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


_LIB: list[ctypes.CDLL] = []


def libseccomp() -> ctypes.CDLL:
    """libseccomp, opened once; call before pivot_root (the host's library is out of reach
    afterwards)."""
    if not _LIB:
        lib = ctypes.CDLL(_LIBSECCOMP_PATH, use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        _LIB.append(lib)
    return _LIB[0]


def _build(lib: ctypes.CDLL, caps: list[str]) -> int:
    """A libseccomp filter context for `caps` (the caller releases it)."""
    ctx = lib.seccomp_init(act_errno(errno.EPERM))
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init failed")
    try:
        lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        for name, conds, action in rules(caps):
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr == NR_SCMP_ERROR:
                continue  # unknown to libseccomp
            arr = (_ArgCmp * max(1, len(conds)))(*[_ArgCmp(*c) for c in conds])
            act = SCMP_ACT_ALLOW if action == ALLOW else act_errno(errno.ENOSYS)
            rc = lib.seccomp_rule_add_array(ctx, act, nr, len(conds), arr)
            if rc < 0 and nr >= 0:
                raise OSError(-rc, f"seccomp rule for {name}: {errno.errorcode.get(-rc, rc)}")
            # nr < 0: a call of another architecture (a pseudo number): nothing to add
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return ctx


# --- the compiled filter, cached ------------------------------------------------------
# Building the filter through libseccomp costs ~4 ms per container start; the BPF program
# it produces depends only on the table, the capabilities, libseccomp and the machine, so
# it is kept in a cache directory (root's, under $STACKUP_ROOT) and loaded with one prctl.

_PREPARED: dict[frozenset, bytes] = {}
_LIBC: list[ctypes.CDLL] = []


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def cache_key(caps: list[str]) -> str:
    import zlib

    machine = os.uname()
    text = repr((ALLOWED, BY_CAPABILITY, CONDITIONAL, sorted(set(caps)), machine.machine,
                 machine.release, _LIBSECCOMP_PATH))
    return "%08x" % zlib.crc32(text.encode())


def prepare(caps: list[str], cache_dir: str) -> bytes:
    """The BPF program for `caps`, from the cache or compiled into it; kept for `load`.
    Runs before pivot_root (it reads the host's files)."""
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    path = f"{cache_dir}/{cache_key(caps)}.bpf"
    try:
        with open(path, "rb") as f:
            prog = f.read()
    except FileNotFoundError:
        prog = b""
    if not prog or len(prog) % 8:
        prog = _compile(caps, cache_dir, path)
    _PREPARED[frozenset(caps)] = prog
    return prog


def _compile(caps: list[str], cache_dir: str, path: str) -> bytes:
    lib = libseccomp()
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    ctx = _build(lib, caps)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
        finally:
            os.close(fd)
        if rc < 0:
            raise OSError(-rc, "seccomp_export_bpf failed")
        with open(tmp, "rb") as f:
            prog = f.read()
        os.replace(tmp, path)  # concurrent starts write the same bytes
        return prog
    finally:
        lib.seccomp_release(ctx)
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(caps: list[str]) -> None:
    """Install the filter in this process (kept across exec). Raises OSError on failure.
    no_new_privs is left to the caller (the profile's `no_new_privileges`)."""
    prog = _PREPARED.get(frozenset(caps))
    if prog is not None:
        buf = ctypes.create_string_buffer(prog, len(prog))
        fprog = _SockFprog(len(prog) // 8, ctypes.addressof(buf))
        libc = _LIBC[0]
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"loading the seccomp filter: {os.strerror(err)}")
        return
    lib = libseccomp()
    ctx = _build(lib, caps)
    try:
        rc = lib.seccomp_load(ctx)
        if rc < 0:
            raise OSError(-rc, "seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)
