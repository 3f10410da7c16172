"""RUN steps: one command in a container of stackup's own runtime, its changes kept.

`run_step` creates a container on the step's layers (Docker's default security: seccomp,
the default 14 capabilities), starts it, streams its output lines as they come, waits,
then moves the container's overlay upper folder (the step's changes, whiteouts and
opaque directories in overlay form) out to a folder under $STACKUP_ROOT/build/tmp that
the caller owns, and removes the container. On any error or interrupt the container is
killed and removed and nothing of the step is left.

Step containers live under their own runtime root ($STACKUP_ROOT/build/steps), so that
`container ls -a` and a project's `ps` never show them, as Docker never shows BuildKit's.

Network `default` is one stackup bridge network per build (`BuildNetwork`, NAT to the
outside, made on first use, removed at the end); `none` a namespace with only loopback;
`host` the host's. DNS: on `default` the network's DNS server, which forwards to the
host's resolvers (so a host whose resolver is on its loopback, such as systemd-resolved,
works too, where BuildKit falls back to 8.8.8.8); on `none`/`host` the host's resolvers
as the runtime writes them.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from stackup.engine import state as st
from stackup.engine.build.model import RunMount, RunResult, RunStep
from stackup.engine.build.stubs import clean_stubs
from stackup.engine.runtime import logs
from stackup.engine.runtime.container import Runtime, StartError, pid_alive
from stackup.engine.runtime.spec import ContainerSpec, Mount, merge_env
from stackup.errors import UserError

STEP_LABEL = "stackup.build.step"  # the step's label ("[web 3/7] RUN ..."), for humans
OWNER_LABEL = "stackup.build.owner"  # "<pid>:<start time>" of the building process
HOSTNAME = "buildkitsandbox"  # what BuildKit names a RUN step's host
TAIL_LINES = 20
DEFAULT_SHM = 64 * 1024 * 1024
# What the runtime makes in the root file system only to mount something on it.
RUNTIME_STUBS = ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/proc", "/sys", "/dev")


def steps_root() -> Path:
    """The runtime root of RUN step containers."""
    return st.root() / "build" / "steps"


def scratch_root() -> Path:
    """Where the uppers of finished steps are moved unless the caller names a folder:
    the builder's scratch area (snapshot.py owns it)."""
    from stackup.engine.build.snapshot import scratch_root as snapshots

    return snapshots()


def owner_token(pid: int | None = None) -> str:
    """This process as a label value that a reused pid cannot match: pid and start time."""
    pid = pid or os.getpid()
    return f"{pid}:{_start_time(pid)}"


def owner_alive(token: str) -> bool:
    pid, _, started = token.partition(":")
    return pid.isdigit() and pid_alive(int(pid)) and _start_time(int(pid)) == started


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


class BuildNetwork:
    """The bridge network a build's RUN steps on network `default` share, made on first use
    (`name()`), removed on exit. Thread-safe: parallel stages ask for it together."""

    def __init__(self) -> None:
        self._name: str | None = None
        self._lock = threading.Lock()

    def name(self) -> str:
        with self._lock:
            if self._name is None:
                from stackup.engine import network

                name = f"stackup-build-{os.urandom(6).hex()}"
                network.create_network(name, labels={OWNER_LABEL: owner_token()})
                self._name = name
            return self._name

    @property
    def created(self) -> bool:
        return self._name is not None

    def close(self) -> None:
        with self._lock:
            if self._name is not None:
                from stackup.engine import network

                network.remove_network(self._name, force=True)
                self._name = None

    def __enter__(self) -> BuildNetwork:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


_RUNTIMES: dict[tuple[Path, bool], Runtime] = {}


def _runtime(networked: bool) -> Runtime:
    """The step containers' runtime (kept per root: its first listing sweeps for strays)."""
    key = (steps_root(), networked)
    rt = _RUNTIMES.get(key)
    if rt is None:
        wirings: list[Any] = []
        if networked:
            from stackup.engine import network

            wirings = [network.runtime_wiring()]
        rt = _RUNTIMES[key] = Runtime(key[0], wirings=wirings)
    return rt


def container_spec(step: RunStep, network_name: str = "") -> ContainerSpec:
    """The runtime's spec for a step (`network_name`: the build network, for `default`)."""
    if not step.argv:
        raise UserError(f"{step.label or 'RUN'}: no command to run")
    if step.network not in ("default", "none", "host"):
        raise UserError(f"{step.label or 'RUN'}: network {step.network!r} must be "
                        "default, none or host")
    workdir = step.workdir or "/"
    networks: dict[str, Any] = {}
    mode = step.network
    if step.network == "default":
        mode, networks = network_name, {network_name: {}}
    return ContainerSpec(
        layers=[str(p) for p in step.layers], argv=list(step.argv),
        env=merge_env([], step.env), user=step.user, working_dir=workdir,
        hostname=HOSTNAME, mounts=[_mount(m, workdir) for m in step.mounts],
        shm_size=step.shm_size or DEFAULT_SHM,
        # Docker's RUN gets the default capabilities and seccomp profile, and no
        # no_new_privileges (su and sudo work in RUN as in `docker build`)
        no_new_privileges=False, seccomp=True,
        network_mode=mode, networks=networks, extra_hosts=list(step.extra_hosts),
        labels={STEP_LABEL: step.label, OWNER_LABEL: owner_token()})


def _mount(m: RunMount, workdir: str) -> Mount:
    # BuildKit takes a relative target as relative to the working directory
    target = m.target if m.target.startswith("/") else os.path.join(workdir, m.target)
    options: dict[str, Any] = {"size": m.size} if m.type == "tmpfs" and m.size else {}
    return Mount(type=m.type, target=os.path.normpath(target), source=m.source,
                 read_only=m.read_only, options=options)


def run_step(step: RunStep, output: Callable[[str], None], *,
             network: BuildNetwork | None = None, into: Path | None = None) -> RunResult:
    """Run one RUN step; its exit code, its changes (an upper folder the caller owns and
    removes, also for a failed step) and its last output lines.

    `network`: the build's network for `default` steps; without one a network is made
    for this step alone. `into`: the (locked) scratch folder the upper is moved into
    (a build's own, so a sweep by another build never takes it). A command that cannot start (not found: 127, not executable:
    126) is a result too, with the runtime's message as its tail."""
    if step.network == "default" and network is None:
        with BuildNetwork() as own:
            return run_step(step, output, network=own, into=into)
    spec = container_spec(step, network.name() if step.network == "default" and network else "")
    rt = _runtime(step.network == "default")
    name = f"stackup-build-{os.urandom(8).hex()}"
    upper = (into or st.ensure_dir(scratch_root())) / f"run-{name.removeprefix('stackup-build-')}"
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        state = rt.create(spec, name)
        try:
            started = rt.start(state.id)
        except StartError as exc:
            code = exc.exit_code
            # the runtime's message without "cannot start container <step container>: "
            tail.append(str(exc).removeprefix(f"cannot start container {name}: "))
        else:
            with _ShimWatch(started.shim_pid if started else 0) as running:
                _stream(rt.cdir(state.id) / "container.log", running, _Lines(output, tail))
            code = rt.wait(state.id)
        rt.take_upper(state.id, upper)
        rt.remove(state.id, force=True)
        clean_stubs(upper, step.layers, list(RUNTIME_STUBS) + [m.target for m in spec.mounts],
                    keep=spec.working_dir)
    except BaseException:
        _discard(rt, name, upper)
        raise
    return RunResult(exit_code=code, upper=upper, tail=list(tail))


def _discard(rt: Runtime, ref: str, upper: Path) -> None:
    """Everything of a step cut short: the container (killed) and its upper folder."""
    from stackup.errors import NotFoundError

    with _deferred_interrupts():
        with contextlib.suppress(NotFoundError):
            rt.remove(ref, force=True)
        if upper.exists():
            shutil.rmtree(upper, ignore_errors=True)


@contextlib.contextmanager
def _deferred_interrupts() -> Iterator[None]:
    """A second Ctrl-C while a step is being cleaned up waits until the cleanup is done."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class _Lines:
    """Log entries to whole lines, stdout and stderr interleaved as they came; a line cut
    into partial entries (no newline yet) is put back together per stream."""

    def __init__(self, output: Callable[[str], None], tail: deque[str]):
        self.output, self.tail = output, tail
        self.partial: dict[str, str] = {}

    def __call__(self, entry: logs.LogEntry) -> None:
        stream = entry.get("stream", "stdout")
        text = self.partial.pop(stream, "") + entry.get("log", "")
        if not text.endswith("\n"):
            self.partial[stream] = text
            return
        self.emit(text[:-1])

    def emit(self, line: str) -> None:
        line = line.removesuffix("\r")
        self.tail.append(line)
        self.output(line)

    def flush(self) -> None:
        for stream in list(self.partial):
            self.emit(self.partial.pop(stream))


class _ShimWatch:
    """`running()` for following a step's log: whether its shim (which writes the log and
    exits after PID 1) still runs, waiting up to WATCH_WAIT for its exit on a pidfd, so
    that the end of a short step is seen at once instead of after the follower's naps."""

    WATCH_WAIT = 0.02

    def __init__(self, pid: int):
        self.pid = pid
        self.fd = -1

    def __enter__(self) -> _ShimWatch:
        if self.pid:
            with contextlib.suppress(OSError):  # gone already: pid_alive answers
                self.fd = os.pidfd_open(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)

    def __call__(self) -> bool:
        if self.fd < 0:
            return bool(self.pid) and pid_alive(self.pid)
        return not select.select([self.fd], [], [], self.WATCH_WAIT)[0]


def _stream(log: Path, running: Callable[[], bool], lines: _Lines) -> None:
    logs.follow(log, running, lines, from_start=True)
    lines.flush()


def sweep() -> list[str]:
    """Take away what killed builds left: step containers and build networks whose
    building process is gone (a build in another process is left alone). Their names."""
    removed: list[str] = []
    if steps_root().is_dir():
        rt = _runtime(networked=True)
        for state in rt.list():
            if not owner_alive(state.container_spec().labels.get(OWNER_LABEL, "")):
                rt.remove(state.id, force=True)
                removed.append(state.name)
    from stackup.engine import network

    for net in network.network_records():
        token = (net.get("labels") or {}).get(OWNER_LABEL)
        if token is not None and not owner_alive(token):
            network.remove_network(net["id"], force=True)
            removed.append(net["name"])
    return removed
