"""Containers and their lifecycle: create, start, stop, kill, pause, restart, remove, wait.

State is one JSON file per container, `$STACKUP_ROOT/containers/<id>/state.json`,
read and written through `containerstate.StateStore` under the container's lock (the
shim takes the same lock when it records a start or an exit). The public methods hand
their callers the typed `ContainerState` (its `to_dict()`, the file's content, is for
output in that shape). Names are unique under a global lock. Every command
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
from typing import Any, TypedDict

from stackup.engine import notices, proctable
from stackup.engine import state as st
from stackup.engine.runtime import cgpaths, cgroups, netns, rootfs, sigdisp, statefile
from stackup.engine.runtime.containerstate import (
    ContainerState,
    DamagedState,
    HealthRecord,
    StateStore,
    Status,
)
from stackup.engine.runtime.spec import ContainerFile, ContainerSpec, Mount, validate
from stackup.errors import ConflictError, NotFoundError, StackupError, UnsupportedError, UserError

PKG_ROOT = Path(__file__).resolve().parents[3]
SHIM_NAME = "stackup-shim"  # the shim's first argument: how its processes are found
SHIM_BOOT = "import sys; from stackup.engine.runtime.shim import main; sys.exit(main(sys.argv))"
_SHIMS: list[int] = []  # shims this process forked, reaped when they exit
REMOVING = "removing"  # in a container's directory: its removal has begun (see _destroy)
FILES = "files"  # in a container's directory: the files given to it (secrets, configs)


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
    return [pid for pid, argv in proctable.command_lines()
            if SHIM_NAME in argv and cid in argv]


def _shims_in(containers_dir: Path) -> dict[str, int]:
    """container id -> a pid carrying its shim command line (`stackup-shim <dir>/<id> <id>`),
    for the shims of the containers under `containers_dir`."""
    found = {}
    for pid, argv in proctable.command_lines():
        if SHIM_NAME in argv and len(argv) > argv.index(SHIM_NAME) + 2:
            cdir, cid = argv[argv.index(SHIM_NAME) + 1:argv.index(SHIM_NAME) + 3]
            if cdir == f"{containers_dir}/{cid}":
                found[cid] = pid
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


def _mount_volumes(cid: str, spec: ContainerSpec) -> None:
    """Mount the container's volumes that have driver options (the others are folders)."""
    from stackup.engine import volumes

    names = volumes.named_in(m.source for m in spec.mounts if m.type == "bind")
    if names:
        volumes.mount_for(cid, names)


def _reap_shims() -> None:
    for pid in list(_SHIMS):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _SHIMS.remove(pid)


class ProcessRow(TypedDict):
    """One process of a container, as `Runtime.top` lists it."""

    pid: int
    ppid: int
    uid: int
    cmd: str


class Runtime:
    """The engine's container API (no knowledge of stacks or services)."""

    def __init__(self, root: Path | None = None,
                 wirings: builtins.list[netns.NetworkWiring] | None = None):
        self.root = Path(root) if root else st.root()
        self.containers_dir = self.root / "containers"
        self.netns_dir = self.root / "netns"
        self.state_files = StateStore(self.containers_dir)
        self._wirings = wirings
        self._swept = False  # containers running without a directory: looked for once

    # --- paths and state -----------------------------------------------------------
    def cdir(self, cid: str) -> Path:
        return self.containers_dir / cid

    def wirings(self) -> builtins.list[netns.NetworkWiring]:
        return self._wirings if self._wirings is not None else netns.wirings()

    def _names_lock(self) -> contextlib.AbstractContextManager[None]:
        return st.locked(self.containers_dir / ".lock")

    def _read(self, cid: str) -> ContainerState | None:
        """The container's state; None when it has none. A damaged state file (empty, cut
        short, not JSON, the wrong shape) is set aside with a warning and the container is
        then stateless: `_repair` takes away what is left of it."""
        try:
            return self.state_files.read(cid)
        except DamagedState as exc:
            # beside the container's directory, which goes when the container does
            st.set_aside(exc, f"container {cid[:12]}'s state file",
                         stem=self.containers_dir / f"{cid}.state.json")
            return None

    def _public(self, cid: str) -> ContainerState | None:
        """The state as the public methods return it; None once removed (an auto-remove
        container may be gone by the time its start or stop returns)."""
        return self._read(cid)

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

    def list(self, all: bool = True) -> builtins.list[ContainerState]:
        """The containers, newest first (after repairing them); only the up ones unless `all`."""
        return self.states(all)

    def states(self, all: bool = True) -> builtins.list[ContainerState]:
        """`list` (the name the runtime's own modules use)."""
        _reap_shims()
        if not self.containers_dir.exists():
            return []
        if not self._swept:
            self._swept = True
            self._forget_running_without_directory()
        found = []
        for entry in sorted(self.containers_dir.iterdir()):
            if not entry.is_dir() or entry.name.startswith("."):  # e.g. a removal under way
                continue
            state = self._repair(entry.name)
            if state and (all or state.status.is_up()):
                found.append(state)
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def get(self, ref: str) -> ContainerState:
        """A container by id, unique id prefix or name (after repairing it)."""
        return self.state(ref)

    def state(self, ref: str) -> ContainerState:
        """`get` (the name the runtime's own modules use)."""
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
            notices.repaired(f"container {state.name}: finished its interrupted removal")
            return None
        if state.status is Status.CREATING and not pid_alive(state.creator_pid):
            self._destroy(cid)
            notices.repaired(f"container {state.name}: removed what its interrupted create made")
            return None
        if state.status is Status.STARTING and not pid_alive(state.creator_pid) and not shim_alive(state):
            # whatever runs in its cgroup (a PID 1 whose fork was killed before it became
            # the shim) has no supervisor and never will: killed, so that the next start
            # makes the only one
            state = self._mark_dead(cid, "the start was interrupted")
            notices.repaired(f"container {cid[:12] if state is None else state.name}: "
                         "its start was interrupted, marked exited")
        elif state.status.is_up() and not shim_alive(state) and not self._orphaned(state):
            state = self._mark_dead(cid, "the container's shim died")
        elif state.status is Status.EXITED and (state.network or state.netns):
            state = self._release_exited(cid)
        return state

    @staticmethod
    def _orphaned(state: ContainerState) -> bool:
        """Its PID 1 still runs in its cgroup (whether or not its shim does)."""
        return bool(state.pid) and state.pid in cgroups.Cgroup(state.id).pids()

    @classmethod
    def shim_lost(cls, state: ContainerState) -> bool:
        """Up, but its shim died (was killed) while its processes run on: nothing records
        its exit, applies its restart policy or runs its healthcheck. Reading the state
        leaves such a container as it is (it still serves); `recover` restarts it."""
        return state.status.is_up() and not shim_alive(state) and cls._orphaned(state)

    def recover(self, ref: str) -> ContainerState | None:
        """Restart a container whose shim died (see `shim_lost`): its processes are killed
        (never a second copy beside them), then it starts again under a new shim. Its state."""
        state = self.state(ref)
        if not self.shim_lost(state):
            return state
        cgroups.Cgroup(state.id).kill_all()
        self._mark_dead(state.id, "the container's shim died")
        return self.start(state.id)

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
        """Take away a container directory without a (readable) state file.

        Its record is lost (deleted, or damaged and set aside), so the container cannot be
        adopted (its spec, labels and name went with it); if it still runs, it is killed
        and removed at once, so that its service's next container never runs beside it
        (two databases on one volume). A removal cut short (its REMOVING marker) is
        finished. A directory that holds nothing yet may be a create on its way to its
        first write: it is removed when no create can still be, that is when it is old
        enough or at once when the names lock is free (a create makes the directory and
        writes its first state under it)."""
        d = self.cdir(cid)
        if not is_container_id(cid):
            return  # not a container's directory
        try:
            names = set(os.listdir(d))
            if self.state_files.exists(cid):
                # its state was written since our read found none: a create (in this
                # process's other thread, or another command) was on its way, not a leftover
                return
            # (its lock, and the temporary file of its first write, are there before it)
            started = any(n not in (statefile.LOCK, REMOVING) and not n.startswith(".") for n in names)
            young = time.time() - d.stat().st_mtime < grace
        except FileNotFoundError:
            return
        live = bool(_shim_processes(cid) or cgroups.Cgroup(cid).pids())
        if live or started:
            notices.warn(f"container {cid[:12]} has no state: its processes are killed and "
                         "it is removed (without its record it cannot be adopted)"
                         if live else f"container {cid[:12]} has no state: it is removed")
            self._destroy(cid)
            return
        if REMOVING in names:
            self._destroy(cid)
            notices.repaired(f"container {cid[:12]}: finished its interrupted removal")
            return
        with st.try_locked(self.containers_dir / ".lock") as alone:
            if young and not (alone and not self.state_files.exists(cid)):
                return
            self._destroy(cid)
        notices.repaired(f"container {cid[:12]}: removed what an interrupted create left without a state")

    def shims_without_directory(self) -> dict[str, int]:
        """Containers of this root whose shim runs but whose directory is gone (id -> pid)."""
        return {cid: pid for cid, pid in _shims_in(self.containers_dir).items()
                if not self.cdir(cid).exists()}

    def cgroups_without_directory(self) -> builtins.list[str]:
        """Containers of this root whose cgroup holds processes but whose directory is gone
        (their shim killed too). Cgroups are the host's, shared by every root: one is this
        root's when a process in it has its root file system in this root's containers."""
        parents = {path.parent for path in cgroups.Cgroup("0" * 64).paths()}
        ids = {entry.name for parent in parents if parent.is_dir() for entry in os.scandir(parent)
               if entry.is_dir() and is_container_id(entry.name)}
        return sorted(cid for cid in ids if not self.cdir(cid).exists() and self._mounted_here(cid))

    def _mounted_here(self, cid: str) -> bool:
        marker = f"{self.containers_dir}/{cid}/"
        for pid in cgroups.Cgroup(cid).pids():
            try:
                with open(f"/proc/{pid}/mountinfo") as f:
                    if marker in f.read():
                        return True
            except OSError:
                continue
        return False

    def _forget_running_without_directory(self) -> None:
        """A container whose whole directory was deleted while it ran is found by its
        shim's command line, or by its cgroup, and taken away, so that no second one runs
        beside it."""
        for cid in sorted(set(self.shims_without_directory()) | set(self.cgroups_without_directory())):
            notices.warn(f"container {cid[:12]} has no directory but its processes run: they "
                         "are killed and it is removed")
            self.forget(cid)

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
    def create(self, spec: ContainerSpec, name: str | None = None,
               files: builtins.list[ContainerFile] | None = None) -> ContainerState:
        """Create a container (not started). `files`: given read-only at their targets
        (secrets, configs), kept in the container's own folder and gone with it."""
        require_root()
        files = builtins.list(files or [])
        for file in files:
            if not file.target.startswith("/"):
                raise UserError(f"file target {file.target!r} must be an absolute path")
        validate(spec)
        health_interval(spec)  # a malformed healthcheck is refused before anything exists
        self._check_network(spec)
        self._resolve_namespaces(spec)
        cid = os.urandom(32).hex()  # (not `secrets`: its imports cost the CLI)
        name = name or f"stackup_{cid[:12]}"
        _check_name(name)
        if spec.uts_mode == "host":
            spec.hostname = os.uname().nodename  # the host's, as the container sees it
        spec.hostname = spec.hostname or cid[:12]
        if spec.init and not spec.init_path:
            spec.init_path = static_init() or ""
        for layer in spec.layers:
            if not Path(layer).is_dir():
                raise UserError(f"image layer {layer} is missing")
        st.ensure_dir(self.containers_dir)
        spec.mounts += [Mount(type="bind", source=str(self.cdir(cid) / FILES / str(i)),
                              target=file.target, read_only=True) for i, file in enumerate(files)]
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
            _write_files(self.cdir(cid) / FILES, files)
            self._use_volumes(cid, spec)
            return self._update(cid, durable=True, status=Status.CREATED,
                                creator_pid=0)
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

    def _resolve_namespaces(self, spec: ContainerSpec) -> None:
        """A `container:NAME` ipc or pid mode names that container by id from here on
        (it must exist; it must run when this one starts)."""
        for attr in ("ipc_mode", "pid_mode"):
            mode = getattr(spec, attr)
            if mode.startswith("container:"):
                setattr(spec, attr, f"container:{self.state(mode.split(':', 1)[1]).id}")

    def _check_network(self, spec: ContainerSpec) -> None:
        mode = spec.network_mode
        if mode.startswith("container:"):
            other = self.state(mode.split(":", 1)[1])
            spec.network_mode = f"container:{other.id}"
        elif mode not in ("none", "host") and not self.wirings():
            raise UnsupportedError(f"network mode {mode!r} needs the network engine, "
                                   "which is not available; use none or host")

    def _prepare(self, cid: str, spec: ContainerSpec) -> None:
        d = self.cdir(cid)
        for sub in ("upper", "work", "rootfs"):
            (d / sub).mkdir(mode=0o755)
        rootfs.layer_links(str(d), spec.layers)
        (d / "hostname").write_text(spec.hostname + "\n")
        hosts, resolv = _etc_files(spec)
        (d / "hosts").write_text(hosts)
        (d / "resolv.conf").write_text(resolv)
        (d / "container.log").touch(mode=0o640)
        cgroups.Cgroup(cid).create(spec.memory, spec.memory_swap, spec.cpus, spec.cpu_shares,
                                   spec.pids_limit, spec.privileged, spec.knobs)
        cgroups.Cgroup(cid).allow_devices(_device_rules(spec), spec.privileged)
        # after the cgroup's mkdirs (the warm-up holds the cgroup lock they need): for the
        # start that usually follows
        cgpaths.warm_up()

    # --- start ---------------------------------------------------------------------
    def start(self, ref: str) -> ContainerState | None:
        require_root()
        state = self.state(ref)
        cid = state.id
        if state.status.is_up():
            return state
        if not state.status.can_start():
            raise ConflictError(f"container {state.name} is {state.status}")
        spec = ContainerSpec.from_dict(state.spec)
        with contextlib.suppress(FileNotFoundError):
            (self.cdir(cid) / "stop-requested").unlink()
        cg = cgroups.Cgroup(cid)
        if not cg.exists():
            cg.create(spec.memory, spec.memory_swap, spec.cpus, spec.cpu_shares,
                      spec.pids_limit, spec.privileged, spec.knobs)
            cg.allow_devices(_device_rules(spec), spec.privileged)
        cgpaths.warm_up()  # PID 1's cgroup join then finds the kernel's lock warm
        try:
            # STARTING before the network is touched: a repair elsewhere leaves it alone
            # while this process lives, and finishes the teardown if it is killed
            state = self._update(cid, status=Status.STARTING, creator_pid=os.getpid(), error="")
            path, network = self._setup_network(state, spec)
            _mount_volumes(cid, spec)
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

    def _setup_network(self, state: ContainerState, spec: ContainerSpec) -> tuple[str, dict[str, Any]]:
        """(netns path for PID 1 to join, results of the wirings)."""
        cid = state.id
        mode = spec.network_mode
        if mode == "host":
            return "", {}
        if mode.startswith("container:"):
            other = self.state(mode.split(":", 1)[1])
            if not other.status.is_up() or not other.pid:
                raise ConflictError(f"cannot join the network of container {other.name}: "
                                    "it is not running")
            # its names too (as Docker shares them): the stack's DNS server, its hosts
            for name in ("hosts", "resolv.conf"):
                with contextlib.suppress(OSError):
                    shutil.copyfile(self.cdir(other.id) / name, self.cdir(cid) / name)
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
        for wiring in self.wirings():
            results.update(wiring.connect(cid, str(path), info) or {})
        return str(path), results

    def _teardown_network(self, state: ContainerState | None, force: bool = False,
                          unknown: bool = False) -> None:
        """Disconnect the container from its networks; `unknown`: its state is lost, so
        whether it was connected is not known either (the wirings find it by its id)."""
        if not state:
            return
        self._release_network(state, force, unknown)
        if state.netns or state.network:
            with contextlib.suppress(NotFoundError):
                self._update(state.id, netns="", network={})

    def _release_network(self, state: ContainerState, force: bool, unknown: bool = False) -> None:
        """Disconnect the container from its networks and destroy its namespace (its state
        is left as it is); `unknown` as in `_teardown_network`."""
        cid = state.id
        path = self.netns_dir / cid
        mode = state.spec.get("network_mode", "none")
        attached_mode = mode not in ("none", "host") and not mode.startswith("container:")
        # Only containers that were (or may have been) attached call the wirings, so that
        # none/host containers never load the network engine.
        if state.network or unknown or (attached_mode and (force or path.exists())):
            for wiring in self.wirings():
                with contextlib.suppress(Exception):
                    wiring.disconnect(cid)
        netns.destroy(path)
        from stackup.engine import volumes

        if unknown or volumes.named_in(m.get("source") or "" for m in state.spec.get("mounts", [])):
            volumes.unmount_for(cid)  # the local driver's mounts: the last holder unmounts

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
        argv = [shim_python(), "-S", "-E", "-c", SHIM_BOOT, SHIM_NAME, str(d), cid,
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
    def stop(self, ref: str, timeout: float | None = None) -> ContainerState | None:
        state = self.state(ref)
        cid = state.id
        spec = ContainerSpec.from_dict(state.spec)
        if state.status.can_stop():
            (self.cdir(cid) / "stop-requested").touch()
            grace = spec.stop_timeout if timeout is None else timeout
            if state.status is not Status.RESTARTING and state.pid:
                self._signal(state, self._stop_signal(state, _signum(spec.stop_signal)))
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

    def _stop_signal(self, state: ContainerState, signum: int) -> int:
        """The signal stop sends first: SIGKILL at once when the stop signal cannot have
        any effect on PID 1 (see sigdisp), else the stop signal, with its grace period."""
        if not sigdisp.stop_signal_is_futile(state.pid, signum):
            return signum
        notices.debug(f"container {state.name}: its PID 1 neither catches, ignores nor blocks "
                      f"{signal.Signals(signum).name}, which can have no effect: SIGKILL at "
                      "once instead of waiting the grace period")
        return signal.SIGKILL

    def kill(self, ref: str, sig: str | int = "SIGKILL") -> ContainerState:
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
            if not self._orphaned(state):
                return True
            pid = state.pid  # its shim died before it: wait for its PID 1 instead
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
                elif not (shim_alive(state) or self._orphaned(state)):
                    break
                else:
                    time.sleep(min(left, 0.01))
        finally:
            if fd >= 0:
                os.close(fd)
        _reap_shims()
        return True

    def pause(self, ref: str) -> ContainerState:
        state = self.state(ref)
        if not state.status.can_pause():
            raise ConflictError(f"container {state.name} is not running")
        cgroups.Cgroup(state.id).freeze(True)
        return self._update(state.id, status=Status.PAUSED)

    def unpause(self, ref: str) -> ContainerState:
        state = self.state(ref)
        if not state.status.can_unpause():
            raise ConflictError(f"container {state.name} is not paused")
        cgroups.Cgroup(state.id).freeze(False)
        return self._update(state.id, status=Status.RUNNING)

    def restart(self, ref: str, timeout: float | None = None) -> ContainerState | None:
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
    def rename(self, ref: str, new_name: str) -> ContainerState:
        """Give a container (id, unique id prefix or name; any status) another name. As in
        create, the name is checked to be free and taken under the names lock."""
        _check_name(new_name)
        with self._names_lock():
            state = self.state(ref)
            if any(s.name == new_name and s.id != state.id for s in self.states()):
                raise ConflictError(f"the container name {new_name!r} is already in use")
            return self._update(state.id, name=new_name)

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

    def take_upper(self, ref: str, dest: Path) -> None:
        """Move a stopped container's upper folder (its changes to the image, in overlay
        form) to `dest`, which must not exist and must be on the same file system: a
        rename, no copy. The container cannot start again; remove it next."""
        state = self.state(ref)
        if state.status.is_up_or_starting():
            raise ConflictError(f"container {state.name} is {state.status}: its upper "
                                "folder can only be taken once it has stopped")
        os.rename(self.cdir(state.id) / "upper", dest)

    def forget(self, cid: str) -> None:
        """Take away what is left of a container this root has no (readable) record of:
        its processes, cgroup, network, volumes' claims, and its directory."""
        self._destroy(cid)

    def _destroy(self, cid: str) -> None:
        """Take away everything of the container: processes, cgroup, netns, files."""
        state = self._read(cid)
        known = state is not None
        # without a readable state: what its id alone finds (its endpoints, ports, volumes)
        state = state or ContainerState(id=cid, name="", status=Status.CREATING)
        with contextlib.suppress(FileNotFoundError):
            (self.cdir(cid) / REMOVING).touch()  # from here on, the next command finishes it
        _kill_shim_strays(cid)
        cgroups.Cgroup(cid).remove()
        self._teardown_network(state, force=True, unknown=not known)
        if not known or any(m.get("volume") for m in state.spec.get("mounts", [])):
            from stackup.engine import volumes

            volumes.release(cid)
        _remove_state_last(self.cdir(cid))

    # --- inspecting ----------------------------------------------------------------
    def top(self, ref: str) -> builtins.list[ProcessRow]:
        rows: builtins.list[ProcessRow] = []
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

    def check_health(self, ref: str) -> HealthRecord:
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
    from stackup.engine.runtime.healthcheck import Check

    check = Check.from_docker(spec.healthcheck)
    return check.interval if check else 0.0


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


def is_container_id(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def _check_name(name: str) -> None:
    import re

    if re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name) is None:
        raise UserError(f"invalid container name {name!r}: use letters, digits, "
                        "'_', '.' and '-', starting with a letter or digit")


def _write_files(folder: Path, files: builtins.list[ContainerFile]) -> None:
    """The container's files, `folder/<n>` each with its owner and mode; the folder is
    root's alone (0700): a secret is read only through the container's bind."""
    if not files:
        return
    folder.mkdir(mode=0o700)
    for i, file in enumerate(files):
        fd = os.open(folder / str(i), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(file.data)
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, file.uid, file.gid)
            os.fchmod(fd, file.mode)
        finally:
            os.close(fd)


def _device_rules(spec: ContainerSpec) -> builtins.list[str]:
    """The device cgroup rules beyond Docker's defaults: the given devices', then the
    container's own rules."""
    return [d.rule() for d in spec.devices] + builtins.list(spec.device_cgroup_rules)


def _etc_files(spec: ContainerSpec) -> tuple[str, str]:
    """The text of the container's /etc/hosts and /etc/resolv.conf at create. A container
    on a network gets both again from its network wiring at each start."""
    from stackup.engine import etcfiles

    mode = spec.network_mode
    if mode not in ("none", "host") and not mode.startswith("container:"):
        return "", ""  # written by the wiring before PID 1 runs
    hosts = etcfiles.hosts_file(spec.hostname if mode == "none" else None, extra_hosts=spec.extra_hosts,
                                domainname=spec.domainname)
    resolv = etcfiles.resolv_conf(None, spec.dns, spec.dns_search, spec.dns_opt, host_network=mode == "host")
    return hosts, resolv
