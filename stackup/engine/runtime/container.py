"""Containers and their lifecycle: create, start, stop, kill, pause, restart, remove, wait.

State is one JSON file per container, `$STACKUP_ROOT/containers/<id>/state.json`,
read and written through `containerstate.StateStore` under the container's lock (the
shim takes the same lock when it records a start or an exit). The methods here work
on the typed `ContainerState` (`state`, `states`); the others hand their callers its
dict form, the file's content. Names are unique under a global lock. Every command
first repairs what a crash left behind: a container whose shim is gone is marked
exited (and whatever is left of it in its cgroup is killed); a half-created one is
removed.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import select
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from stackup.engine import repairs
from stackup.engine import state as st
from stackup.engine.runtime import cgpaths, cgroups, netns, rootfs, statefile
from stackup.engine.runtime.containerstate import (
    ContainerState,
    DamagedState,
    StateStore,
    Status,
)
from stackup.engine.runtime.spec import ContainerSpec, validate
from stackup.errors import ConflictError, NotFoundError, StackupError, UnsupportedError, UserError

PKG_ROOT = Path(__file__).resolve().parents[3]
SHIM_BOOT = "import sys; from stackup.engine.runtime.shim import main; sys.exit(main(sys.argv))"
_SHIMS: list[int] = []  # shims this process forked, reaped when they exit
REMOVING = "removing"  # in a container's directory: its removal has begun (see _destroy)


class StartError(StackupError):
    """PID 1 could not start; the exit code is Docker's (125 setup, 126/127 exec)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def shim_alive(state: ContainerState) -> bool:
    """Is the recorded shim still this container's shim (not a reused pid)?

    Looked at twice before saying no: while the shim's fork execs, /proc shows its old
    command line and its new name for an instant."""
    if _shim_alive_once(state):
        return True
    if not state.shim_pid:
        return False
    time.sleep(0.02)
    return _shim_alive_once(state)


def _shim_alive_once(state: ContainerState) -> bool:
    pid = state.shim_pid
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().strip()
    except OSError:
        return False
    if b"stackup-shim" in cmdline:
        return state.id.encode() in cmdline
    # The fork that becomes the shim is named so before it execs (see launch).
    return comm == b"stackup-shim" and pid_alive(pid)


def require_root() -> None:
    if os.geteuid() != 0:
        raise UnsupportedError("running containers needs root (rootless containers are not "
                               "supported yet)")


def shim_python() -> str:
    """The interpreter for shims. Debian's /usr/bin/python3 links libpython statically, so
    ten shims share its pages (PSS ~1 MB less per shim than a shared-libpython build); the
    shim and the launcher need only the standard library. STACKUP_SHIM_PYTHON overrides."""
    chosen = os.environ.get("STACKUP_SHIM_PYTHON")
    if chosen:
        return chosen
    system = "/usr/bin/python3"
    return system if os.access(system, os.X_OK) else sys.executable


STATIC_INITS = ("/usr/bin/tini-static", "/usr/libexec/docker/docker-init")


def static_init() -> str | None:
    """The host's statically linked tini (Debian's `tini` package), which works in any
    image. STACKUP_INIT names another; empty: use stackup's own init."""
    chosen = os.environ.get("STACKUP_INIT")
    if chosen is not None:
        return chosen or None
    return next((path for path in STATIC_INITS if os.access(path, os.X_OK)), None)


def _shim_processes(cid: str) -> list[int]:
    """Processes that carry this container's shim command line: the shim and its forks."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"stackup-shim" in cmdline and cid.encode() in cmdline:
            found.append(int(entry))
    return found


def _kill_shim_strays(cid: str, timeout: float = 2.0) -> None:
    """Kill what is left of a container's shim. A fork of the shim (a healthcheck in
    flight) carries its command line and can outlive a killed shim for a moment."""
    for pid in _shim_processes(cid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while _shim_processes(cid) and time.monotonic() < deadline:
        _reap_shims()
        time.sleep(0.01)


def _reap_shims() -> None:
    for pid in list(_SHIMS):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _SHIMS.remove(pid)


class Runtime:
    """The engine's container API (no knowledge of stacks or services)."""

    def __init__(self, root: Path | None = None, attachers: list[Any] | None = None):
        self.root = Path(root) if root else st.root()
        self.containers_dir = self.root / "containers"
        self.netns_dir = self.root / "netns"
        self.state_files = StateStore(self.containers_dir)
        self._attachers = attachers

    # --- paths and state -----------------------------------------------------------
    def cdir(self, cid: str) -> Path:
        return self.containers_dir / cid

    def attachers(self) -> list[Any]:
        return self._attachers if self._attachers is not None else netns.attachers()

    def _names_lock(self):
        return st.locked(self.containers_dir / ".lock")

    def _read(self, cid: str) -> ContainerState | None:
        """The container's state; None when it has none, or only what a power loss left
        of its first write (not JSON): `_repair` collects such a directory. A state file
        of the wrong shape raises DamagedState."""
        try:
            return self.state_files.read(cid)
        except DamagedState as exc:
            if exc.not_json:
                return None
            raise

    def _public(self, cid: str) -> dict[str, Any] | None:
        """The state as the public methods return it; None once removed (an auto-remove
        container may be gone by the time its start or stop returns)."""
        state = self._read(cid)
        return state.to_dict() if state else None

    def _update(self, cid: str, durable: bool = False, **changes: Any) -> ContainerState:
        try:
            with self.state_files.locked(cid):
                state = self._read(cid)
                if state is not None:
                    state = state.replace(**changes)
                    self.state_files.write(state, durable)
        except FileNotFoundError:  # its directory is gone
            state = None
        if state is None:
            raise NotFoundError(f"no such container: {cid}")
        return state

    def _read_known(self, cid: str) -> ContainerState:
        """The state of a container that must exist (NotFoundError if it is gone)."""
        state = self._read(cid)
        if state is None:
            raise NotFoundError(f"no such container: {cid}")
        return state

    def list(self, all: bool = True) -> list[dict[str, Any]]:
        return [state.to_dict() for state in self.states(all)]

    def states(self, all: bool = True) -> builtins.list[ContainerState]:
        """The typed form of `list`."""
        _reap_shims()
        if not self.containers_dir.exists():
            return []
        found = []
        for entry in sorted(self.containers_dir.iterdir()):
            if not entry.is_dir():
                continue
            state = self._repair(entry.name)
            if state and (all or state.status.is_up()):
                found.append(state)
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def get(self, ref: str) -> dict[str, Any]:
        """A container by id, unique id prefix or name (after repairing it)."""
        return self.state(ref).to_dict()

    def state(self, ref: str) -> ContainerState:
        """The typed form of `get`."""
        if ref and self.state_files.exists(ref):
            state = self._repair(ref)
            if state:
                return state
        matches = [s for s in self.states() if s.name == ref]
        if not matches and ref:
            matches = [s for s in self.states() if s.id.startswith(ref)]
        if not matches:
            raise NotFoundError(f"no such container: {ref}")
        if len(matches) > 1:
            raise UserError(f"container reference {ref!r} is ambiguous: "
                            f"{', '.join(m.name for m in matches)}")
        return matches[0]

    # --- recovery ------------------------------------------------------------------
    def _repair(self, cid: str) -> ContainerState | None:
        state = self._read(cid)
        if state is None:
            self._collect_stateless(cid)
            return None
        if (self.cdir(cid) / REMOVING).exists():  # a removal was cut short: finished
            self._destroy(cid)
            repairs.note(f"container {state.name}: finished its interrupted removal")
            return None
        if state.status is Status.CREATING and not pid_alive(state.creator_pid):
            self._destroy(cid)
            repairs.note(f"container {state.name}: removed what its interrupted create made")
            return None
        if state.status is Status.STARTING and not pid_alive(state.creator_pid) and not shim_alive(state):
            # whatever runs in its cgroup (a PID 1 whose fork was killed before it became
            # the shim) has no supervisor and never will: killed, so that the next start
            # makes the only one
            state = self._mark_dead(cid, "the start was interrupted")
            repairs.note(f"container {cid[:12] if state is None else state.name}: "
                         "its start was interrupted, marked exited")
        elif state.status.is_up() and not shim_alive(state):
            state = self._mark_dead(cid, "the container's shim died")
        elif state.status is Status.EXITED and (state.network or state.netns):
            state = self._release_exited(cid)
        return state

    def _release_exited(self, cid: str) -> ContainerState | None:
        """An exited container still holds its network (endpoints, published ports):
        it exited by itself or was killed, or a stop was cut short between the exit and
        the teardown. Released under the container's lock, so that a start (which
        records STARTING under it before it touches the network) is never undone."""
        try:
            with self.state_files.locked(cid):
                state = self._read(cid)
                if state is None or state.status is not Status.EXITED or shim_alive(state):
                    return state
                self._release_network(state, force=False)
                if state.netns or state.network:
                    state = state.replace(netns="", network={})
                    self.state_files.write(state)
                return state
        except FileNotFoundError:  # removed meanwhile
            return None

    def _collect_stateless(self, cid: str, grace: float = 60.0) -> None:
        """A container directory without a state file (a create killed or cut short by a
        power loss before its first write reached the disk) is removed once no create
        can still be on its way to writing it: when it is old enough, or at once when
        the names lock is free (a create makes the directory and writes its first state
        under it)."""
        d = self.cdir(cid)
        if len(cid) != 64 or any(c not in "0123456789abcdef" for c in cid):
            return  # not a container's directory
        try:
            young = time.time() - d.stat().st_mtime < grace
        except FileNotFoundError:
            return
        with st.try_locked(self.containers_dir / ".lock") as alone:
            if young and not (alone and not self.state_files.exists(cid)):
                return
            self._destroy(cid)
        repairs.note(f"container {cid[:12]}: removed what an interrupted create left without a state")

    def _mark_dead(self, cid: str, why: str) -> ContainerState | None:
        cgroups.Cgroup(cid).kill_all()
        try:
            with self.state_files.locked(cid):
                state = self._read(cid)
                if state and state.status.is_up_or_starting() and not shim_alive(state):
                    exit_code = state.exit_code if state.status is Status.RESTARTING else 137
                    state = state.replace(status=Status.EXITED, pid=0, error=why,
                                          finished_at=now(), exit_code=exit_code)
                    self.state_files.write(state, durable=True)
        except FileNotFoundError:  # removed meanwhile
            return None
        self._teardown_network(state)
        return state

    # --- create --------------------------------------------------------------------
    def create(self, spec: ContainerSpec, name: str | None = None) -> dict[str, Any]:
        require_root()
        validate(spec)
        health_interval(spec)  # a malformed healthcheck is refused before anything exists
        self._check_network(spec)
        cid = os.urandom(32).hex()  # (not `secrets`: its imports cost the CLI)
        name = name or f"stackup_{cid[:12]}"
        _check_name(name)
        spec.hostname = spec.hostname or cid[:12]
        if spec.init and not spec.init_path:
            spec.init_path = static_init() or ""
        for layer in spec.layers:
            if not Path(layer).is_dir():
                raise UserError(f"image layer {layer} is missing")
        st.ensure_dir(self.containers_dir)
        state = ContainerState(id=cid, name=name, created_at=now(), status=Status.CREATING,
                               creator_pid=os.getpid(), spec=spec.to_dict())
        with self._names_lock():
            if any(s.name == name for s in self.states()):
                raise ConflictError(f"the container name {name!r} is already in use")
            self.cdir(cid).mkdir(mode=0o700)
            # atomic, not fsynced: "creating" is transient and "created" below is durable;
            # a directory a power loss left without its state is collected by `_repair`
            self.state_files.write(state, durable=False)
        try:
            self._prepare(cid, spec)
            self._use_volumes(cid, spec)
            return self._update(cid, durable=True, status=Status.CREATED,
                                creator_pid=0).to_dict()
        except BaseException:
            self._destroy(cid)
            raise

    @staticmethod
    def _use_volumes(cid: str, spec: ContainerSpec) -> None:
        """Record the container as a user of its named volumes (`volume rm` then refuses)."""
        names = {m.volume for m in spec.mounts if m.volume}
        if names:
            from stackup.engine import volumes

            for name in sorted(names):
                volumes.add_user(name, cid)

    def _check_network(self, spec: ContainerSpec) -> None:
        mode = spec.network_mode
        if mode.startswith("container:"):
            other = self.state(mode.split(":", 1)[1])
            spec.network_mode = f"container:{other.id}"
        elif mode not in ("none", "host") and not self.attachers():
            raise UnsupportedError(f"network mode {mode!r} needs the network engine, "
                                   "which is not available; use none or host")

    def _prepare(self, cid: str, spec: ContainerSpec) -> None:
        d = self.cdir(cid)
        for sub in ("upper", "work", "rootfs"):
            (d / sub).mkdir(mode=0o755)
        rootfs.layer_links(str(d), spec.layers)
        (d / "hostname").write_text(spec.hostname + "\n")
        (d / "hosts").write_text(hosts_file(spec))
        (d / "resolv.conf").write_text(resolv_conf(spec.dns))
        (d / "container.log").touch(mode=0o640)
        cgroups.Cgroup(cid).create(spec.memory, spec.memory_swap, spec.cpus, spec.cpu_shares,
                                   spec.pids_limit, spec.privileged)
        # after the cgroup's mkdirs (the warm-up holds the cgroup lock they need): for the
        # start that usually follows
        cgpaths.warm_up()

    # --- start ---------------------------------------------------------------------
    def start(self, ref: str) -> dict[str, Any] | None:
        require_root()
        state = self.state(ref)
        cid = state.id
        if state.status.is_up():
            return state.to_dict()
        if not state.status.can_start():
            raise ConflictError(f"container {state.name} is {state.status}")
        spec = ContainerSpec.from_dict(state.spec)
        with contextlib.suppress(FileNotFoundError):
            (self.cdir(cid) / "stop-requested").unlink()
        cg = cgroups.Cgroup(cid)
        if not cg.exists():
            cg.create(spec.memory, spec.memory_swap, spec.cpus, spec.cpu_shares,
                      spec.pids_limit, spec.privileged)
        cgpaths.warm_up()  # PID 1's cgroup join then finds the kernel's lock warm
        try:
            # STARTING before the network is touched: a repair elsewhere leaves it alone
            # while this process lives, and finishes the teardown if it is killed
            state = self._update(cid, status=Status.STARTING, creator_pid=os.getpid(), error="")
            path, network = self._setup_network(state, spec)
            # One durable write on the way in; the shim records "running" itself.
            state = self._update(cid, status=Status.STARTING, creator_pid=os.getpid(), error="",
                                 netns=path, network=network)
            pid, shim_pid = self._spawn_shim(state, spec)
            # PID 1 runs; record it now unless the shim already wrote (its start or an exit).
            with self.state_files.locked(cid):
                current = self._read(cid)
                if current and current.status is Status.STARTING:
                    current = current.replace(status=Status.RUNNING, pid=pid, shim_pid=shim_pid,
                                              started_at=now(), creator_pid=0)
                    self.state_files.write(current)
        except StartError as exc:
            self._update(cid, status=Status.EXITED, exit_code=exc.exit_code, error=str(exc),
                         creator_pid=0)
            self._teardown_network(self._read(cid))
            raise
        except BaseException as exc:
            self._update(cid, status=Status.EXITED, exit_code=125, error=str(exc), creator_pid=0)
            self._teardown_network(self._read(cid), force=True)
            raise
        return self._public(cid)

    def _setup_network(self, state: ContainerState, spec: ContainerSpec) -> tuple[str, dict]:
        """(netns path for PID 1 to join, results of the attachers)."""
        cid = state.id
        mode = spec.network_mode
        if mode == "host":
            return "", {}
        if mode.startswith("container:"):
            other = self.state(mode.split(":", 1)[1])
            if not other.status.is_up() or not other.pid:
                raise ConflictError(f"cannot join the network of container {other.name}: "
                                    "it is not running")
            return other.netns or f"/proc/{other.pid}/ns/net", {}
        self._teardown_network(state)
        if mode == "none":
            return "", {}  # PID 1 unshares a private namespace itself (launch.private_net)
        path = self.netns_dir / cid
        netns.create(path)
        results: dict[str, Any] = {}
        info = {"networks": spec.networks or {mode: {}}, "network_mode": mode,
                "name": state.name, "hostname": spec.hostname,
                "domainname": spec.domainname, "extra_hosts": spec.extra_hosts,
                "dns": spec.dns, "dns_search": spec.dns_search, "dns_opt": spec.dns_opt,
                "ports": spec.ports, "hosts_file": str(self.cdir(cid) / "hosts"),
                "resolv_conf": str(self.cdir(cid) / "resolv.conf")}
        for attacher in self.attachers():
            results.update(attacher.attach(cid, str(path), info) or {})
        return str(path), results

    def _teardown_network(self, state: ContainerState | None, force: bool = False) -> None:
        if not state:
            return
        self._release_network(state, force)
        if state.netns or state.network:
            with contextlib.suppress(NotFoundError):
                self._update(state.id, netns="", network={})

    def _release_network(self, state: ContainerState, force: bool) -> None:
        """Detach the container from its networks and destroy its namespace (its state
        is left as it is)."""
        cid = state.id
        path = self.netns_dir / cid
        mode = state.spec.get("network_mode", "none")
        attached_mode = mode not in ("none", "host") and not mode.startswith("container:")
        # Only containers that were (or may have been) attached call the attachers, so that
        # none/host containers never load the network engine.
        if state.network or (attached_mode and (force or path.exists())):
            for attacher in self.attachers():
                with contextlib.suppress(Exception):
                    attacher.detach(cid)
        netns.destroy(path)

    def _spawn_shim(self, state: ContainerState, spec: ContainerSpec) -> tuple[int, int]:
        """Start PID 1 and its shim; returns once PID 1 has exec'd (or raises StartError).

        Usually a fork of this process starts PID 1 (every module is loaded already) and
        then execs the shim, which adopts it; with stackup's own init (no tini on the
        host), whose PID 1 stays a Python process, the shim starts it itself so that
        PID 1 is a small process."""
        from stackup.engine.runtime import launch

        cid = state.id
        d = self.cdir(cid)
        ready_r, ready_w = os.pipe()
        # Imported (from cached bytecode) rather than run as a script: compiling it, or
        # runpy for -m, would cost the shim memory.
        argv = [shim_python(), "-S", "-E", "-c", SHIM_BOOT, "stackup-shim", str(d), cid,
                "READY", spec.restart, str(spec.log_max_size), str(spec.log_max_files),
                "1" if spec.auto_remove else "0", str(health_interval(spec))]
        env = dict(os.environ, STACKUP_ROOT=str(self.root), STACKUP_PYTHON=sys.executable)
        child = os.fork()
        if child == 0:
            try:
                os.close(ready_r)
                if not spec.init or spec.init_path:
                    launch.prestart_then_exec_shim(str(d), argv, env, ready_w,
                                                   str(d / "shim.err"), str(PKG_ROOT))
                os.setsid()
                os.set_inheritable(ready_w, True)
                argv[argv.index("READY")] = str(ready_w)
                null = os.open("/dev/null", os.O_RDWR)
                err = os.open(d / "shim.err", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                for fd, target in ((null, 0), (null, 1), (err, 2)):
                    os.dup2(fd, target)
                os.chdir(PKG_ROOT)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(125)
        _SHIMS.append(child)
        os.close(ready_w)
        try:
            message = _read_line(ready_r, timeout=60.0)
        finally:
            os.close(ready_r)
        if message.startswith("ok "):
            return int(message.split()[1]), child
        if message.startswith("error "):
            _, code, text = (message.split(" ", 2) + [""])[:3]
            raise StartError(f"cannot start container {state.name}: {text.strip()}",
                             int(code) if code.isdigit() else 125)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        raise StartError(f"cannot start container {state.name}: the shim did not report "
                         f"(see {d / 'shim.err'})", 125)

    # --- stop, kill, pause ----------------------------------------------------------
    def stop(self, ref: str, timeout: float | None = None) -> dict[str, Any] | None:
        state = self.state(ref)
        cid = state.id
        spec = ContainerSpec.from_dict(state.spec)
        if state.status.can_stop():
            (self.cdir(cid) / "stop-requested").touch()
            grace = spec.stop_timeout if timeout is None else timeout
            if state.status is not Status.RESTARTING and state.pid:
                self._signal(state, _signum(spec.stop_signal))
            if state.status is Status.PAUSED:
                cgroups.Cgroup(cid).freeze(False)
            if not self._wait_shim(state, grace):
                self._signal(self._read_known(cid), signal.SIGKILL)
                cgroups.Cgroup(cid).kill_all()
                self._wait_shim(state, 10.0)
            self._teardown_network(self._repair(cid))
        else:
            self._teardown_network(state)
        return self._public(cid)

    def kill(self, ref: str, sig: str | int = "SIGKILL") -> dict[str, Any]:
        state = self.state(ref)
        if not state.status.can_stop():
            raise ConflictError(f"container {state.name} is not running")
        signum = _signum(sig)
        (self.cdir(state.id) / "stop-requested").touch()
        self._signal(state, signum)
        if signum == signal.SIGKILL:
            self._wait_shim(state, 10.0)
        return self.get(state.id)

    def _signal(self, state: ContainerState | None, signum: int) -> None:
        if state is None or not state.pid:
            return
        if state.pid in cgroups.Cgroup(state.id).pids():  # never signal a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.pid, signum)

    def _wait_shim(self, state: ContainerState, timeout: float) -> bool:
        """Wait until the shim has recorded the exit and gone; False on timeout."""
        pid = state.shim_pid
        deadline = time.monotonic() + timeout
        if not pid or not shim_alive(state):
            _reap_shims()
            return True
        try:
            fd = os.pidfd_open(pid)  # readable once the process has exited: no polling
        except OSError:
            fd = -1
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if fd >= 0:
                    if select.select([fd], [], [], min(left, 0.5))[0]:
                        break
                elif not shim_alive(state):
                    break
                else:
                    time.sleep(min(left, 0.01))
        finally:
            if fd >= 0:
                os.close(fd)
        _reap_shims()
        return True

    def pause(self, ref: str) -> dict[str, Any]:
        state = self.state(ref)
        if not state.status.can_pause():
            raise ConflictError(f"container {state.name} is not running")
        cgroups.Cgroup(state.id).freeze(True)
        return self._update(state.id, status=Status.PAUSED).to_dict()

    def unpause(self, ref: str) -> dict[str, Any]:
        state = self.state(ref)
        if not state.status.can_unpause():
            raise ConflictError(f"container {state.name} is not paused")
        cgroups.Cgroup(state.id).freeze(False)
        return self._update(state.id, status=Status.RUNNING).to_dict()

    def restart(self, ref: str, timeout: float | None = None) -> dict[str, Any] | None:
        cid = self.state(ref).id
        self.stop(cid, timeout)
        return self.start(cid)

    def wait(self, ref: str, timeout: float | None = None) -> int:
        """Block until the container is no longer running; its exit code."""
        state = self.state(ref)
        deadline = None if timeout is None else time.monotonic() + timeout
        while state.status.is_up_or_starting():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise StackupError(f"timed out waiting for container {state.name}")
            self._wait_shim(state, 0.5 if left is None else min(left, 0.5))
            state = self._repair(state.id) or state
        return int(state.exit_code or 0)

    # --- rename --------------------------------------------------------------------
    def rename(self, ref: str, new_name: str) -> dict[str, Any]:
        """Give a container (id, unique id prefix or name; any status) another name. As in
        create, the name is checked to be free and taken under the names lock."""
        _check_name(new_name)
        with self._names_lock():
            state = self.state(ref)
            if any(s.name == new_name and s.id != state.id for s in self.states()):
                raise ConflictError(f"the container name {new_name!r} is already in use")
            return self._update(state.id, name=new_name).to_dict()

    # --- remove --------------------------------------------------------------------
    def remove(self, ref: str, force: bool = False) -> None:
        state = self.state(ref)
        if state.status.is_up_or_starting():
            if not force:
                raise ConflictError(f"container {state.name} is {state.status}: stop it "
                                    "first or remove with -f")
            (self.cdir(state.id) / "stop-requested").touch()
            self._signal(state, signal.SIGKILL)
            if state.status is Status.PAUSED:
                cgroups.Cgroup(state.id).freeze(False)
            self._wait_shim(state, 10.0)
        self._destroy(state.id)

    def _destroy(self, cid: str) -> None:
        """Take away everything of the container: processes, cgroup, netns, files."""
        try:
            state = self._read(cid)
        except DamagedState:
            state = None
        # without a readable state: what its id alone finds (the network by its netns path)
        state = state or ContainerState(id=cid, name="", status=Status.CREATING)
        with contextlib.suppress(FileNotFoundError):
            (self.cdir(cid) / REMOVING).touch()  # from here on, the next command finishes it
        _kill_shim_strays(cid)
        cgroups.Cgroup(cid).remove()
        self._teardown_network(state, force=True)
        if any(m.get("volume") for m in state.spec.get("mounts", [])):
            from stackup.engine import volumes

            volumes.release(cid)
        _remove_state_last(self.cdir(cid))

    # --- inspecting ----------------------------------------------------------------
    def top(self, ref: str) -> builtins.list[dict[str, Any]]:
        rows = []
        for pid in cgroups.Cgroup(self.state(ref).id).pids():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                uid = os.stat(f"/proc/{pid}").st_uid
            except OSError:
                continue
            rows.append({"pid": pid, "ppid": ppid, "uid": uid, "cmd": cmd})
        return rows

    def containers_using_image(self, image_id: str) -> builtins.list[str]:
        """Names of the containers (any status) made from an image: the `in_use` hook of
        ImageStore.rm/prune (`lambda image: runtime.containers_using_image(image.id)`)."""
        return [s.name for s in self.states() if s.spec.get("image_id") == image_id]

    def containers_using_volume(self, name: str) -> builtins.list[str]:
        """Ids of the containers (any status) that mount a named volume: by the mount's
        `volume`, or by a bind source inside the volume's directory (callers that resolve
        volumes to plain binds). The `volumes.register_in_use` provider."""
        base = str(st.root() / "volumes" / name) + "/"
        return [s.id for s in self.states()
                if any(m.get("volume") == name or (m.get("source") or "").startswith(base)
                       for m in s.spec.get("mounts", []))]

    def check_health(self, ref: str) -> dict[str, Any]:
        """Run the container's healthcheck now (the hook for orchestrators) and record it."""
        from stackup.engine.runtime.health import run_check

        return run_check(self, ref)

    def log_path(self, ref: str) -> Path:
        return self.cdir(self.state(ref).id) / "container.log"


def _remove_state_last(d: Path) -> None:
    """Remove a container's directory, its state file and REMOVING marker last: a kill in
    between leaves a container that the next command finds and finishes removing, not a
    directory without a state that it must guess about, nor a container to start."""
    try:
        entries = builtins.list(os.scandir(d))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name in (statefile.FILE, REMOVING, statefile.LOCK):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
    for name in (statefile.FILE, REMOVING, statefile.LOCK):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(d / name)
    shutil.rmtree(d, ignore_errors=True)


def health_interval(spec: ContainerSpec) -> float:
    from stackup.engine.runtime.health import normalize

    hc = normalize(spec.healthcheck)
    return hc["interval"] if hc else 0.0


def _read_line(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _signum(sig: str | int) -> int:
    if isinstance(sig, int) or str(sig).isdigit():
        return int(sig)
    name = str(sig).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise UserError(f"invalid signal {sig!r}") from None


def _check_name(name: str) -> None:
    import re

    if re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name) is None:
        raise UserError(f"invalid container name {name!r}: use letters, digits, "
                        "'_', '.' and '-', starting with a letter or digit")


def hosts_file(spec: ContainerSpec) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    for entry in spec.extra_hosts:
        host, _, ip = entry.partition(":") if entry.count(":") == 1 else entry.partition("=")
        lines.append(f"{ip}\t{host}")
    if spec.network_mode in ("none",):
        lines.append(f"127.0.1.1\t{spec.hostname}")
    return "\n".join(lines) + "\n"


def resolv_conf(dns: list[str]) -> str:
    if dns:
        return "".join(f"nameserver {d}\n" for d in dns)
    try:
        host = Path("/etc/resolv.conf").read_text()
    except OSError:
        host = ""
    lines = [ln for ln in host.splitlines()
             if not (ln.startswith("nameserver") and ln.split()[1:2] and
                     ln.split()[1].startswith("127."))]
    if not any(ln.startswith("nameserver") for ln in lines):
        lines += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(lines) + "\n"
