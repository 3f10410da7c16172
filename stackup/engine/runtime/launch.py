"""Starting the container's PID 1: runs in a child the shim forks, never in the shim itself.

Order (as runc does it): join the cgroup, join or create the namespaces, fork so the
child is PID 1 of the new PID namespace (the shim, a child subreaper, adopts it), build
the root file system, pivot into it, set hostname and sysctls, resolve the user, set
limits, drop capabilities, load seccomp, switch user, set no_new_privs, exec. Any
failure is written to the error pipe so `start` can report it; a successful exec
closes that pipe (close-on-exec) and the shim sees EOF.
"""

from __future__ import annotations

import _signal  # the C module (the `signal` package would import enum)
import os

from stackup.engine.runtime import cgpaths, rootfs, security, statefile
from stackup.engine.runtime import syscalls as sc
from stackup.engine.runtime.pid1fork import start_pid1
from stackup.engine.runtime.process import (UserNotFound, additional_groups, apply_rlimits, final_env,
                                            find_executable, read_or_empty, resolve_user,
                                            switch_user)

TYPE_CHECKING = False  # not `typing`: it costs a fresh process milliseconds
if TYPE_CHECKING:  # this module runs in a fresh child on every start: import little
    from typing import Any

    from stackup.engine.runtime.spec import ContainerSpec

NS_FLAGS = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWPID | sc.CLONE_NEWCGROUP


class SetupError(Exception):
    """A failure before exec, with the exit code Docker would give (126/127 for exec)."""

    def __init__(self, message: str, code: int = 125):
        super().__init__(message)
        self.code = code


def namespace_steps(netns_path: str | None, new_net: bool = False,
                    joins: list[tuple[str, int]] | None = None, shared: int = 0,
                    root_propagation: int = sc.MS_REC | sc.MS_PRIVATE) -> list[tuple[Any, ...]]:
    """The namespace calls, in order: join the network namespace (or, `new_net`, make a
    private one with loopback only: network `none`), join other containers' namespaces
    (`joins`: (path, flag)), then unshare the rest but those kept as the host's
    (`shared`: flags); the new mount namespace's copies of the host's mounts are cut
    off from the host's (`root_propagation`: rprivate) or only receive from it (rslave,
    for a bind with slave propagation)."""
    steps: list[tuple[Any, ...]] = []
    if netns_path:
        steps.append(("setns", netns_path, sc.CLONE_NEWNET))
    joined = 0
    for path, flag in joins or []:
        steps.append(("setns", path, flag))
        joined |= flag
    steps.append(("unshare", (NS_FLAGS & ~(joined | shared)) | (sc.CLONE_NEWNET if new_net else 0)))
    if new_net:
        steps.append(("loopback_up",))
    steps.append(("mount", None, "/", None, root_propagation, None))
    return steps


NAMESPACE_FLAGS = {"ipc_mode": ("ipc", sc.CLONE_NEWIPC), "pid_mode": ("pid", sc.CLONE_NEWPID),
                   "uts_mode": ("uts", sc.CLONE_NEWUTS), "cgroupns_mode": ("cgroup", sc.CLONE_NEWCGROUP)}


def namespace_modes(cdir: str, spec: ContainerSpec) -> tuple[list[tuple[str, int]], int]:
    """(the namespaces of other containers to join, the flags of those kept as the
    host's) from the spec's modes. A container joined must be running: its PID 1's
    namespace is looked up now, so a restart of either finds the current one."""
    joins: list[tuple[str, int]] = []
    shared = 0
    for attr, (kind, flag) in NAMESPACE_FLAGS.items():
        mode = getattr(spec, attr, "") or ""
        if mode == "host":
            shared |= flag
        elif mode.startswith("container:"):
            joins.append((container_namespace(cdir, mode.split(":", 1)[1], kind), flag))
    return joins, shared


def container_namespace(cdir: str, other: str, kind: str) -> str:
    """/proc/<pid>/ns/<kind> of the running container `other` (an id, beside `cdir`)."""
    state = statefile.read(f"{os.path.dirname(cdir)}/{other}/{statefile.FILE}")
    if state is None:
        raise SetupError(f"cannot join the {kind} namespace of container {other[:12]}: it is gone")
    pid = state.get("pid") or 0
    if state.get("status") not in (statefile.RUNNING, statefile.PAUSED) or not pid:
        raise SetupError(f"cannot join the {kind} namespace of container {state.get('name') or other[:12]}: "
                         "it is not running")
    return f"/proc/{pid}/ns/{kind}"


def apply_namespace_steps(syscalls: sc.Syscalls, steps: list[tuple[Any, ...]]) -> None:
    for step in steps:
        if step[0] == "setns":
            fd = os.open(step[1], os.O_RDONLY | os.O_CLOEXEC)
            try:
                syscalls.setns(fd, step[2])
            finally:
                os.close(fd)
        else:
            getattr(syscalls, step[0])(*step[1:])


def paths_for(cdir: str, console: str = "") -> rootfs.RootPaths:
    return rootfs.RootPaths(rootfs=f"{cdir}/rootfs", upper=f"{cdir}/upper", work=f"{cdir}/work",
                            hostname=f"{cdir}/hostname", hosts=f"{cdir}/hosts",
                            resolv_conf=f"{cdir}/resolv.conf", console=console)


class SpecView:
    """Attribute access to the spec dict (the dataclass module costs a fresh child ~10 ms)."""

    def __init__(self, data: dict):
        self.__dict__.update(data)
        self.mounts = [MountView(m) for m in data.get("mounts", [])]
        self.devices = [MountView(d) for d in data.get("devices", [])]


class MountView:
    def __init__(self, data: dict):
        self.__dict__.update(data)


def container_setup(syscalls: sc.Syscalls, spec: ContainerSpec, paths: rootfs.RootPaths,
                    cgroup_mounts: list[tuple[str, str]]) -> None:
    """Inside the new namespaces, as PID 1: the root file system, names and sysctls."""
    rootfs.apply(syscalls, rootfs.plan_before_pivot(spec, paths, cgroup_mounts))
    own_uts = getattr(spec, "uts_mode", "") != "host"  # never rename the host
    if spec.hostname and own_uts:
        syscalls.sethostname(spec.hostname)
    if spec.domainname and own_uts:
        syscalls.setdomainname(spec.domainname)
    for name, value in spec.sysctls.items():
        syscalls.write_file("/proc/sys/" + name.replace(".", "/"), str(value))
    rootfs.apply(syscalls, rootfs.plan_after_pivot(spec))


def become_process(syscalls: sc.Syscalls, spec: ContainerSpec, argv: list[str], env: list[str],
                   user: str, working_dir: str, tty: bool, init: bool) -> None:
    """From a root process inside the container to the user's process (exec; no return)."""
    try:
        group_file = read_or_empty("/etc/group")
        who = resolve_user(user, read_or_empty("/etc/passwd"), group_file)
        extra = additional_groups(getattr(spec, "group_add", []), group_file)
    except UserNotFound as exc:
        raise SetupError(str(exc)) from None
    who.groups += [g for g in extra if g not in who.groups]
    environ = final_env(env, spec.hostname, who.home, tty)
    if working_dir != "/" and not os.path.isdir(working_dir):
        try:
            os.makedirs(working_dir, exist_ok=True)
            os.chown(working_dir, who.uid, who.gid)
        except OSError as exc:
            raise SetupError(f"cannot create working directory {working_dir}: {exc.strerror}") from None
    apply_rlimits(spec.ulimits)
    caps = security.capability_set(spec.cap_add, spec.cap_drop, spec.privileged)
    mask = security.cap_mask(caps)
    for cap in range(security.last_cap() + 1):
        if not mask & (1 << cap):
            syscalls.prctl(sc.PR_CAPBSET_DROP, cap)
    if spec.seccomp and not spec.privileged:
        security.load_seccomp(caps)
    static_init: str = getattr(spec, "init_path", "")
    if init and static_init:
        argv = [rootfs.INIT_TARGET, "--", *argv]  # tini: forwards signals, reaps, exits alike
    elif init:
        run_init(argv)  # returns in the child that goes on to exec
    reset_signals()
    switch_user(who)
    if who.uid == 0:
        mask &= _permitted()  # never ask for more than we hold (privileged on a limited host)
        syscalls.capset(mask, mask, 0)
    if spec.no_new_privileges and not spec.privileged:
        syscalls.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    try:
        os.chdir(working_dir)
    except OSError as exc:
        raise SetupError(f"cannot enter working directory {working_dir}: {exc.strerror}") from None
    path = find_executable(argv[0], environ.get("PATH", ""))
    if path is None:
        raise SetupError(f"exec: {argv[0]!r}: executable file not found in $PATH", 127)
    try:
        os.execve(path, argv, environ)
    except OSError as exc:
        code = 127 if exc.errno == 2 else 126
        raise SetupError(f"exec {argv[0]!r}: {exc.strerror}", code) from None


def reset_signals() -> None:
    """Default dispositions and an empty mask for the new process: Python ignores SIGPIPE
    (and the shim more), and an ignored signal would stay ignored across exec."""
    for signum in range(1, _signal.NSIG):
        if signum in (_signal.SIGKILL, _signal.SIGSTOP):
            continue
        try:
            _signal.signal(signum, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def _permitted() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapPrm:"):
                return int(line.split()[1], 16)
    return 0


def run_init(argv: list[str]) -> None:
    """stackup's init: stay as PID 1, forward signals to the child, reap every zombie.

    Returns only in the forked child, which goes on to become the user's process."""
    child = os.fork()
    if child == 0:
        return
    for fd in range(3, 256):  # drop the error pipe so the shim sees the exec succeed
        try:
            os.close(fd)
        except OSError:
            pass

    def forward(signum: int, _frame: Any) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    import signal  # already loaded by child_main before pivot_root

    for signum in signal.valid_signals():
        if signum not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            try:
                signal.signal(signum, forward)
            except (OSError, ValueError):
                pass
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == child:
            os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status)
                     else 128 + os.WTERMSIG(status))


def load_spec(cdir: str) -> tuple[dict[str, Any], ContainerSpec]:
    path = f"{cdir}/{statefile.FILE}"
    state = statefile.read(path)
    if state is None:
        raise FileNotFoundError(f"the container's state {path} is gone")
    return state, SpecView(state["spec"])  # type: ignore[return-value]  # reads as one


def netns_for(state: dict[str, Any], spec: ContainerSpec) -> str | None:
    if spec.network_mode == "host":
        return None
    return state.get("netns") or None


def private_net(state: dict[str, Any], spec: ContainerSpec) -> bool:
    """Network `none`: PID 1 makes its own namespace (nothing to pin, join or unmount)."""
    return spec.network_mode == "none" and not state.get("netns")


def child_main(cdir: str, out_fd: int, err_fd: int, report_fd: int, error_fd: int,
               in_fd: int = -1) -> None:
    """Entry of the shim's child (never returns): reports 'pid N' or fails on error_fd.

    For a tty container `out_fd` is a Unix socket: PID 1 sends its pty master over it.
    `in_fd`: PID 1's stdin (a pipe of the shim's, for -i), else /dev/null."""
    try:
        state, spec = load_spec(cdir)
        syscalls = sc.LinuxSyscalls()
        cgpaths.join(state["id"], os.getpid())
        joins, shared = namespace_modes(cdir, spec)
        if getattr(spec, "oom_score_adj", 0):  # PID 1 and all it starts inherit it
            sc.LinuxSyscalls().write_file("/proc/self/oom_score_adj", str(spec.oom_score_adj))
        root_propagation = sc.MS_REC | (sc.MS_SLAVE if rootfs.receives_host_mounts(spec) else sc.MS_PRIVATE)
        apply_namespace_steps(syscalls, namespace_steps(netns_for(state, spec),
                                                        private_net(state, spec), joins, shared,
                                                        root_propagation))
        cgroup_mounts = cgpaths.container_mounts()
        if spec.seccomp and not spec.privileged:
            security.prepare_seccomp(
                security.capability_set(spec.cap_add, spec.cap_drop, spec.privileged),
                os.path.dirname(os.path.dirname(cdir)) + "/seccomp")
        if spec.init and not getattr(spec, "init_path", ""):
            import signal  # noqa: F401 - needed by run_init after pivot_root
        if getattr(spec, "tty", False):
            import fcntl  # noqa: F401 - these are needed after pivot_root
            import struct  # noqa: F401
            import termios  # noqa: F401

            from stackup.engine.runtime import fdpass  # noqa: F401
        pid = os.fork()
        if pid == 0:
            os.close(report_fd)
            pid1_main(syscalls, cdir, spec, out_fd, err_fd, error_fd, cgroup_mounts, in_fd)
        os.write(report_fd, f"pid {pid}\n".encode())
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001 - reported to `start`, never lost
        report_failure(error_fd, exc)


def pid1_main(syscalls: sc.Syscalls, cdir: str, spec: ContainerSpec, out_fd: int, err_fd: int,
              error_fd: int, cgroup_mounts: list[tuple[str, str]], in_fd: int = -1) -> None:
    try:
        tty = bool(getattr(spec, "tty", False))
        stdin = in_fd if in_fd >= 0 else os.open("/dev/null", os.O_RDONLY)
        os.dup2(stdin, 0)
        os.dup2(err_fd if tty else out_fd, 1)  # tty: until the pty exists
        os.dup2(err_fd, 2)
        for fd in {stdin, err_fd} | (set() if tty else {out_fd}):
            if fd > 2:
                os.close(fd)
        os.setsid()
        os.umask(0o022)
        console = "/dev/pts/0" if tty else ""  # the first pty of its own devpts
        container_setup(syscalls, spec, paths_for(cdir, console), cgroup_mounts)
        if tty:
            attach_pty(syscalls, out_fd)
        become_process(syscalls, spec, spec.argv, spec.env, spec.user, spec.working_dir,
                       tty, spec.init)
    except BaseException as exc:  # noqa: BLE001
        report_failure(error_fd, exc)


def attach_pty(syscalls: sc.Syscalls, sock_fd: int) -> None:
    """PID 1's stdio becomes the container's pty (also its controlling terminal); the
    master goes to the shim over `sock_fd`."""
    import fcntl
    import termios

    from stackup.engine.runtime import fdpass

    slave = os.open(f"/dev/pts/{syscalls.pty_number}", os.O_RDWR)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for n in (0, 1, 2):
        os.dup2(slave, n)
    if slave > 2:
        os.close(slave)
    fdpass.send_fd(sock_fd, syscalls.pty_master, b"m")
    os.close(syscalls.pty_master)
    os.close(sock_fd)


def report_failure(error_fd: int, exc: BaseException) -> None:
    code = exc.code if isinstance(exc, SetupError) else 125
    message = str(exc) if isinstance(exc, (SetupError, OSError)) else f"{type(exc).__name__}: {exc}"
    try:
        os.write(error_fd, f"{code} {message}".encode())
    finally:
        os._exit(code)


def prestart_then_exec_shim(cdir: str, shim_argv: list[str], env: dict, ready_fd: int,
                            err_path: str, cwd: str) -> None:
    """In a child the CLI forked (every module already loaded): start PID 1 as the shim
    would, then become the shim by exec, which adopts PID 1. The first start so skips the
    shim's own interpreter start-up and imports on the way to PID 1. Never returns."""
    try:
        # Named as the shim from the start: until the exec below, our command line is still
        # the CLI's, and `shim_alive` must not take us for a dead shim.
        set_comm("stackup-shim")
        os.setsid()
        sc.LinuxSyscalls().prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # PID 1 is reparented to us
        ooms = cgpaths.oom_kills(os.path.basename(cdir))  # so the shim sees a new OOM kill
        _state, spec = load_spec(cdir)
        tty = bool(getattr(spec, "tty", False))
        out_r, out_w = stdio_pipes(tty)
        in_r, in_w = os.pipe() if getattr(spec, "stdin_open", False) and not tty else (-1, -1)
        err_r, err_w = os.pipe()
        pid, failure = start_pid1(cdir, out_w, err_w, in_r, (out_r, err_r, ready_fd, in_w))
        if failure or not pid:
            code, _, message = failure.partition(" ")
            os.write(ready_fd, f"error {code or 125} {message or 'the init did not start'}\n"
                     .encode())
            os._exit(125)
        if tty:
            try:
                out_r = take_pty_master(out_r)
            except OSError as exc:
                os.write(ready_fd, f"error 125 {exc}\n".encode())
                os._exit(125)
        # PID 1 runs: tell `start` now, and let the shim (the same process after exec)
        # take over its output; it records "running" itself.
        os.write(ready_fd, f"ok {pid}\n".encode())
        os.close(ready_fd)
        for fd in (out_r, err_r, in_w):
            if fd >= 0:
                os.set_inheritable(fd, True)
        null = os.open("/dev/null", os.O_RDWR)
        err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err, 2)
        os.chdir(cwd)
        argv = list(shim_argv)
        argv[argv.index("READY")] = "-1"
        os.execve(argv[0], argv + [f"adopt={pid},{out_r},{err_r},{ooms},{in_w}"], env)
    finally:
        os._exit(125)


def stdio_pipes(tty: bool) -> tuple[int, int]:
    """PID 1's output channel: a pipe, or for a tty a socket pair that carries the master."""
    if tty:
        from stackup.engine.runtime import fdpass

        return fdpass.socketpair()
    return os.pipe()


def take_pty_master(sock_fd: int) -> int:
    """The pty master PID 1 sent (after its exec); the socket is closed."""
    from stackup.engine.runtime import fdpass

    try:
        _tag, master = fdpass.recv_fd(sock_fd)
    finally:
        os.close(sock_fd)
    if master < 0:
        raise OSError("the container's pty was not passed on")
    return master


def set_comm(name: str) -> None:
    """This process's name as `ps` and /proc/PID/comm show it (15 bytes at most)."""
    fd = os.open("/proc/self/comm", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, name.encode()[:15])
    finally:
        os.close(fd)
