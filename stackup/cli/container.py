"""`stackup container ...`: single containers on the embedded engine, shaped like Docker's CLI.

The image is looked up here (the engine takes layer directories and a config), so
the runtime stays independent of the image store. `dir:/path` as IMAGE runs a plain
root file system directory as a one-layer image (useful for tests and rescue).
"""

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from stackup.cli import commands
from stackup.cli.objects import pairs
from stackup.cli.table import print_table
from stackup.errors import NotFoundError, UserError

if TYPE_CHECKING:
    from stackup.engine.runtime.container import Runtime
    from stackup.engine.runtime.containerstate import ContainerState
    from stackup.engine.runtime.logs import LogEntry

app = typer.Typer(help=commands.COMMANDS["container"][1], no_args_is_help=True,
                  rich_markup_mode=None)

ORDERED = {"allow_interspersed_args": False}


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="container")


def _runtime() -> "Runtime":
    from stackup.engine.runtime.container import Runtime

    import importlib.util

    from stackup.engine.runtime import netns

    if importlib.util.find_spec("stackup.engine.network.wiring"):
        netns.register_wiring(LazyNetworkWiring())
    return Runtime()


class LazyNetworkWiring:
    """The network engine as wiring, imported on first use (pyroute2 takes ~0.3 s to
    import, which containers without networks should not pay)."""

    def _engine(self):
        from stackup.engine import network

        return network.runtime_wiring()

    def connect(self, container_id: str, netns_path: str, spec: dict) -> dict:
        return self._engine().connect(container_id, netns_path, spec)

    def disconnect(self, container_id: str) -> None:
        self._engine().disconnect(container_id)


# --- image lookup -------------------------------------------------------------------
def resolve_image(ref: str) -> tuple[Any, list[str], str]:
    """(config, layer dirs base first, image id) for an image reference."""
    if ref.startswith("dir:"):
        path = Path(ref[4:]).absolute()
        if not path.is_dir():
            raise NotFoundError(f"image {ref}: {path} is not a directory")
        return {}, [str(path)], ""
    try:
        from stackup.engine.images.store import ImageStore
    except ImportError:
        raise UserError(f"image {ref!r}: the image store is not available in this build; "
                        "use dir:/path/to/rootfs") from None
    image = ImageStore().resolve(ref)
    return image.config, [str(p) for p in image.layer_dirs()], image.id


# --- flags shared by run and create ---------------------------------------------------
def _mounts(volume: list[str], mount: list[str], tmpfs: list[str], layers: list[str]) -> list:
    """-v, --mount and --tmpfs through the volumes engine: named volumes made on first use
    (and filled from the image unless nocopy), binds, tmpfs."""
    if not (volume or mount or tmpfs):
        return []
    from stackup.engine import volumes
    from stackup.engine.runtime.spec import Mount
    from stackup.shortsyntax import parse_volume

    specs: list = []
    for v in volume:
        long = parse_volume(v, strict=True)
        if "source" not in long:
            raise UserError(f"invalid volume {v!r}: expected [name|/host/path:]/container/path[:ro]")
        if long["type"] == "bind":  # a host path may be relative to here (or home)
            long["source"] = os.path.abspath(os.path.expanduser(long["source"]))
        specs.append(long)
    specs += [volumes.parse_mount_flag(m) for m in mount]
    resolved = volumes.resolve_mounts(specs, tmpfs=tmpfs, image_layers=layers)
    return [Mount(**m.as_runtime(), volume=m.volume or "") for m in resolved]


def build_spec(image: str, command: list[str], env: list[str], volume: list[str],
               mount: list[str], tmpfs: list[str], workdir: str | None, user: str | None,
               entrypoint: str | None, memory: str | None, memory_swap: str | None,
               cpus: float, cpu_shares: int, pids_limit: int, init: bool, read_only: bool,
               cap_add: list[str], cap_drop: list[str], privileged: bool,
               security_opt: list[str], hostname: str | None, domainname: str | None,
               ulimit: list[str], sysctl: list[str], network: str, restart: str,
               stop_signal: str | None, stop_timeout: int | None, shm_size: str | None,
               label: list[str], add_host: list[str], dns: list[str], publish: list[str],
               auto_remove: bool, tty: bool = False, interactive: bool = False):
    from stackup.engine.runtime import spec as sp
    from stackup.units import parse_bytes

    config, layers, image_id = resolve_image(image)
    if network not in ("none", "host", "bridge") and not network.startswith("container:"):
        from stackup.engine.network import store

        store.find(network)  # a missing network is refused before anything is created
    overrides: dict[str, Any] = dict(
        mounts=_mounts(volume, mount, tmpfs, layers), init=init, tty=tty,
        stdin_open=interactive, read_only=read_only, cpus=cpus,
        cpu_shares=cpu_shares, pids_limit=pids_limit, cap_add=list(cap_add),
        cap_drop=list(cap_drop), privileged=privileged, hostname=hostname or "",
        domainname=domainname or "", network_mode=network, restart=restart,
        extra_hosts=list(add_host), dns=list(dns), auto_remove=auto_remove,
        ports=list(publish), networks={} if network in ("none", "host", "bridge") or
        network.startswith("container:") else {network: {}},
        ulimits=dict(sp.parse_ulimit(u) for u in ulimit), stop_signal=stop_signal,
        **sp.parse_security_opts(security_opt, "--security-opt"))
    if memory:
        overrides["memory"] = parse_bytes(memory, what="--memory")
    if memory_swap:
        overrides["memory_swap"] = -1 if memory_swap == "-1" else parse_bytes(memory_swap, what="--memory-swap")
    if shm_size:
        overrides["shm_size"] = parse_bytes(shm_size, what="--shm-size")
    if stop_timeout is not None:
        overrides["stop_timeout"] = stop_timeout
    overrides["sysctls"] = pairs(sysctl, "--sysctl", need_equals=True)
    labels = dict(item.partition("=")[::2] for item in label)
    entry = None if entrypoint is None else ([entrypoint] if entrypoint else [])
    return sp.spec_from_image(config, layers, image=image, image_id=image_id,
                              entrypoint=entry, cmd=list(command) or None, env=_env(env),
                              user=user, working_dir=workdir, labels=labels, **overrides)


def _env(items: list[str]) -> list[str]:
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item in os.environ:  # `-e NAME` passes the caller's value, as Docker does
            out.append(f"{item}={os.environ[item]}")
    return out


def create_options(f):
    """The flags of `run` and `create` (one definition for both)."""
    import functools
    import inspect

    O = typer.Option  # noqa: N806
    params = [
        ("name", str | None, O(None, "--name", help="Container name")),
        ("interactive", bool, O(False, "-i", "--interactive", help="Keep stdin open (attach it with run)")),
        ("tty", bool, O(False, "-t", "--tty", help="Allocate a pseudo-TTY")),
        ("env", list[str], O([], "-e", "--env", help="Set an environment variable")),
        ("volume", list[str], O([], "-v", "--volume", help="Mount a volume: NAME|/host:/ctr[:ro,nocopy]")),
        ("mount", list[str], O([], "--mount", help="type=volume|bind|tmpfs,source=..,target=..[,readonly]")),
        ("tmpfs", list[str], O([], "--tmpfs", help="Mount a tmpfs: /path[:size=64m,mode=1777]")),
        ("workdir", str | None, O(None, "-w", "--workdir", help="Working directory")),
        ("user", str | None, O(None, "-u", "--user", help="User: name|uid[:group|gid]")),
        ("entrypoint", str | None, O(None, "--entrypoint", help="Override the entrypoint")),
        ("memory", str | None, O(None, "-m", "--memory", help="Memory limit (e.g. 64m)")),
        ("memory_swap", str | None, O(None, "--memory-swap", help="Memory+swap limit, -1: unlimited")),
        ("cpus", float, O(0.0, "--cpus", help="Number of CPUs (quota)")),
        ("cpu_shares", int, O(0, "-c", "--cpu-shares", help="CPU shares (relative weight)")),
        ("pids_limit", int, O(0, "--pids-limit", help="Maximum number of processes")),
        ("init", bool, O(False, "--init", help="Run stackup's init as PID 1")),
        ("read_only", bool, O(False, "--read-only", help="Read-only root file system")),
        ("cap_add", list[str], O([], "--cap-add", help="Add a capability")),
        ("cap_drop", list[str], O([], "--cap-drop", help="Drop a capability")),
        ("privileged", bool, O(False, "--privileged", help="All capabilities, no seccomp, no masks")),
        ("security_opt", list[str], O([], "--security-opt", help="no-new-privileges[:false], seccomp=unconfined")),
        ("hostname", str | None, O(None, "--hostname", help="Container host name")),
        ("domainname", str | None, O(None, "--domainname", help="Container NIS domain name")),
        ("ulimit", list[str], O([], "--ulimit", help="NAME=SOFT[:HARD]")),
        ("sysctl", list[str], O([], "--sysctl", help="Namespaced kernel parameter NAME=VALUE")),
        ("network", str, O("none", "--network", "--net", help="none, host, container:NAME or a network")),
        ("restart", str, O("no", "--restart", help="no, always, on-failure[:max], unless-stopped")),
        ("stop_signal", str | None, O(None, "--stop-signal", help="Signal to stop the container")),
        ("stop_timeout", int | None, O(None, "--stop-timeout", help="Seconds before SIGKILL on stop")),
        ("shm_size", str | None, O(None, "--shm-size", help="Size of /dev/shm")),
        ("label", list[str], O([], "-l", "--label", help="Set a label KEY=VALUE")),
        ("add_host", list[str], O([], "--add-host", help="Add a host:ip line to /etc/hosts")),
        ("dns", list[str], O([], "--dns", help="DNS server")),
        ("publish", list[str], O([], "-p", "--publish", help="Publish a port HOST:CONTAINER (needs a network)")),
    ]
    sig = inspect.signature(f)
    new_params = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    for pname, annotation, default in params:
        new_params.append(inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY,
                                            default=default, annotation=annotation))

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=new_params)
    return wrapper


_SPEC_KEYS = ("env", "volume", "mount", "tmpfs", "workdir", "user", "entrypoint", "memory",
              "memory_swap", "cpus", "cpu_shares", "pids_limit", "init", "read_only", "cap_add",
              "cap_drop", "privileged", "security_opt", "hostname", "domainname", "ulimit",
              "sysctl", "network", "restart", "stop_signal", "stop_timeout", "shm_size",
              "label", "add_host", "dns", "publish", "tty", "interactive")


def _create(image: str, command: list[str], opts: dict[str, Any], auto_remove: bool) -> "ContainerState":
    spec = build_spec(image, command, auto_remove=auto_remove,
                      **{k: opts[k] for k in _SPEC_KEYS})
    return _runtime().create(spec, name=opts["name"])


# --- commands -----------------------------------------------------------------------
@app.command(context_settings=ORDERED)
@create_options
def run(image: str = typer.Argument(..., help="Image reference"),
        command: list[str] = typer.Argument(None, help="Command and arguments"),
        *, detach: bool = typer.Option(False, "-d", "--detach", help="Run in the background"),
        rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits"),
        **opts: Any) -> int:
    """Create and start a container (attached to its output unless -d)."""
    from stackup.engine.runtime.container import StartError

    tty, interactive = opts["tty"], opts["interactive"]
    if tty and interactive and not detach and not os.isatty(0):
        raise UserError("the input device is not a TTY: drop -t, or run from a terminal")
    rt = _runtime()
    state = _create(image, command or [], opts, auto_remove=rm and detach)
    cid = state.id
    if tty and not detach:
        _hold_output(rt, cid)
    try:
        rt.start(cid)
    except StartError as exc:
        if rm:
            rt.remove(cid, force=True)
        print(f"stackup: {exc}", file=sys.stderr)
        return exc.exit_code
    except BaseException:
        if rm:  # --rm: a container that could not start is not kept either
            rt.remove(cid, force=True)
        raise
    if detach:
        print(cid)
        return 0

    def forward(signum, _frame):
        try:
            rt.kill(cid, signum)
        except Exception:  # noqa: BLE001 - the container may be gone already
            pass

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, forward)
    _attach(rt, cid, tty, interactive, from_start=True)
    code = rt.wait(cid)
    if rm:
        rt.remove(cid, force=True)
    return code


@app.command(context_settings=ORDERED)
@create_options
def create(image: str = typer.Argument(..., help="Image reference"),
           command: list[str] = typer.Argument(None, help="Command and arguments"),
           **opts: Any) -> int:
    """Create a container without starting it; prints its id."""
    print(_create(image, command or [], opts, auto_remove=False).id)
    return 0


def _hold_output(rt, cid: str) -> None:
    """The shim holds a tty container's output until we attach."""
    from stackup.engine.runtime.attach import hold_output

    hold_output(rt, cid)


def _attach(rt, cid: str, tty: bool, interactive: bool, from_start: bool) -> None:
    """The terminal on the container until it stops: its pty (tty containers) or its
    output from the log, and with `interactive` our stdin to its stdin."""
    from stackup.engine.runtime.attach import attach_terminal

    attach_terminal(rt, cid, tty, interactive, from_start=from_start)


@app.command()
def start(containers: list[str] = typer.Argument(..., help="Containers"),
          attach_: bool = typer.Option(False, "-a", "--attach", help="Attach to its output (one container)"),
          interactive: bool = typer.Option(False, "-i", "--interactive", help="Attach its stdin too")) -> int:
    """Start created or exited containers."""
    rt = _runtime()
    if not (attach_ or interactive):
        for ref in containers:
            rt.start(ref)
            print(ref)
        return 0
    if len(containers) != 1:
        raise UserError("start -a/-i takes exactly one container")
    state = rt.get(containers[0])
    spec = state.container_spec()
    interactive = interactive and spec.stdin_open
    if spec.tty:
        if interactive and not os.isatty(0):
            raise UserError("the input device is not a TTY: drop -i, or run from a terminal")
        _hold_output(rt, state.id)
    rt.start(state.id)
    _attach(rt, state.id, spec.tty, interactive, from_start=False)
    return rt.wait(state.id)


@app.command("attach")
def attach_cmd(container: str = typer.Argument(..., help="Container"),
               no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach stdin")) -> int:
    """Attach the terminal to a running container (its pty, or its output and stdin)."""
    from stackup.errors import ConflictError

    rt = _runtime()
    state = rt.get(container)
    if not state.status.is_up():
        raise ConflictError(f"container {state.name} is {state.status}, not running")
    spec = state.container_spec()
    interactive = spec.stdin_open and not no_stdin
    if spec.tty and interactive and not os.isatty(0):
        raise UserError("the input device is not a TTY: use --no-stdin")
    _attach(rt, state.id, spec.tty, interactive, from_start=False)
    return rt.wait(state.id)


@app.command()
def stop(containers: list[str] = typer.Argument(..., help="Containers"),
         time: int = typer.Option(None, "-t", "--time", help="Seconds to wait before SIGKILL")) -> int:
    """Stop containers: the stop signal, then SIGKILL after the grace period."""
    rt = _runtime()
    for ref in containers:
        rt.stop(ref, time)
        print(ref)
    return 0


@app.command()
def kill(containers: list[str] = typer.Argument(..., help="Containers"),
         signal_: str = typer.Option("SIGKILL", "-s", "--signal", help="Signal to send")) -> int:
    """Send a signal to containers' PID 1 (SIGKILL by default)."""
    rt = _runtime()
    for ref in containers:
        rt.kill(ref, signal_)
        print(ref)
    return 0


@app.command()
def pause(containers: list[str] = typer.Argument(..., help="Containers")) -> int:
    """Freeze all processes of containers."""
    rt = _runtime()
    for ref in containers:
        rt.pause(ref)
        print(ref)
    return 0


@app.command()
def unpause(containers: list[str] = typer.Argument(..., help="Containers")) -> int:
    """Thaw paused containers."""
    rt = _runtime()
    for ref in containers:
        rt.unpause(ref)
        print(ref)
    return 0


@app.command()
def restart(containers: list[str] = typer.Argument(..., help="Containers"),
            time: int = typer.Option(None, "-t", "--time", help="Seconds to wait before SIGKILL")) -> int:
    """Stop then start containers."""
    rt = _runtime()
    for ref in containers:
        rt.restart(ref, time)
        print(ref)
    return 0


@app.command()
def rm(containers: list[str] = typer.Argument(..., help="Containers"),
       force: bool = typer.Option(False, "-f", "--force", help="Kill running containers first")) -> int:
    """Remove containers and everything they own."""
    rt = _runtime()
    for ref in containers:
        rt.remove(ref, force=force)
        print(ref)
    return 0


@app.command()
def wait(containers: list[str] = typer.Argument(..., help="Containers")) -> int:
    """Wait for containers to stop; print their exit codes."""
    rt = _runtime()
    for ref in containers:
        print(rt.wait(ref))
    return 0


def _status_text(s: "ContainerState") -> str:
    """Docker's STATUS: `Up 5 seconds`, `Up 2 minutes (Paused)`, `Exited (0) 3 seconds ago`."""
    from stackup.cli.shapes import since
    from stackup.engine.runtime.containerstate import Status

    status = s.status
    if status is Status.EXITED:
        return f"Exited ({s.exit_code}) {since(s.finished_at)} ago" + (" OOMKilled" if s.oom_killed else "")
    if status in (Status.RUNNING, Status.PAUSED):
        return f"Up {since(s.started_at)}" + (" (Paused)" if status is Status.PAUSED else "")
    return {Status.CREATED: "Created", Status.RESTARTING: "Restarting"}.get(status, status.capitalize())


@app.command()
def ps(all_: bool = typer.Option(False, "-a", "--all", help="Show all containers"),
       quiet: bool = typer.Option(False, "-q", "--quiet", help="Only ids"),
       no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output"),
       format_: str = typer.Option("table", "--format", help="table, json, or a Go template (table TEMPLATE)")) -> int:
    """List containers (running ones unless -a)."""
    from stackup.cli import formatting, gotemplate, shapes

    if format_.strip() not in ("", "table", "json"):
        gotemplate.parse(format_)
    states = _runtime().list(all=all_)
    if quiet:
        for s in states:
            print(s.id if no_trunc else s.id[:12])
        return 0
    named = shapes.volume_names() if states else {}
    rows = [shapes.summary(s, _status_text(s), named, trunc=not no_trunc) for s in states]

    def table() -> None:
        lines = [("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")]
        lines += [(r["ID"], r["Image"] or "-", r["Command"], r["RunningFor"], r["Status"], r["Ports"], r["Names"])
                  for r in rows]
        print_table(lines)

    formatting.render(format_, rows, table)
    return 0


@app.command()
def inspect(containers: list[str] = typer.Argument(..., help="Containers"),
            format_: str = typer.Option(None, "-f", "--format", help="A Go template, or json")) -> int:
    """Show containers in detail, in Docker's shape (JSON, or a Go template)."""
    from stackup.cli import formatting, gotemplate, shapes

    if format_ and format_.strip() != "json":
        gotemplate.parse(format_)
    rt = _runtime()
    named = shapes.volume_names()
    found, problems = [], []
    for ref in containers:
        try:
            state = rt.get(ref)
        except NotFoundError as exc:
            problems.extend(exc.lines())
            continue
        found.append(shapes.inspect(state, str(rt.cdir(state.id)), str(rt.log_path(state.id)), named))
    formatting.inspect(format_, found)
    if problems:
        raise NotFoundError(problems[0], problems=problems)
    return 0


@app.command()
def top(container: str = typer.Argument(..., help="Container")) -> int:
    """Show the processes of a container."""
    rows: list[tuple[object, ...]] = [("PID", "PPID", "UID", "CMD")]
    rows += [(p["pid"], p["ppid"], p["uid"], p["cmd"]) for p in _runtime().top(container)]
    print_table(rows)
    return 0


def _emitter(timestamps: bool):
    from stackup.engine.runtime import logs

    def emit(entry: "LogEntry") -> None:
        out = sys.stderr if entry.get("stream") == "stderr" else sys.stdout
        out.write(logs.format_entry(entry, timestamps))
        out.flush()

    return emit


@app.command()
def logs(container: str = typer.Argument(..., help="Container"),
         follow: bool = typer.Option(False, "-f", "--follow", help="Follow until it exits"),
         tail: str = typer.Option("all", "-n", "--tail", help="Lines from the end"),
         timestamps: bool = typer.Option(False, "-t", "--timestamps", help="Show timestamps"),
         since: str = typer.Option(None, "--since", help="Since a time or duration (10m)")) -> int:
    """Show a container's output."""
    from stackup.engine.runtime import logs as lg

    rt = _runtime()
    state = rt.get(container)
    if tail != "all" and not tail.isdigit():
        raise UserError(f"invalid --tail {tail!r}: expected a number or all")
    since_at = lg.parse_since(since) if since else None
    path = rt.log_path(state.id)
    emit = _emitter(timestamps)
    for entry in lg.select(path, None if tail == "all" else int(tail), since_at):
        emit(entry)
    if follow:

        lg.follow(path, lambda: rt.get(state.id).status.is_up_or_starting(), emit, since_at)
    return 0


@app.command("exec", context_settings=ORDERED)
def exec_(container: str = typer.Argument(..., help="Container"),
          command: list[str] = typer.Argument(..., help="Command and arguments"),
          interactive: bool = typer.Option(False, "-i", "--interactive", help="Keep stdin open"),
          tty: bool = typer.Option(False, "-t", "--tty", help="Allocate a pseudo-TTY"),
          no_tty: bool = typer.Option(False, "-T", "--no-tty", help="Never allocate a TTY"),
          env: list[str] = typer.Option([], "-e", "--env", help="Set an environment variable"),
          user: str = typer.Option(None, "-u", "--user", help="User: name|uid[:group|gid]"),
          workdir: str = typer.Option(None, "-w", "--workdir", help="Working directory")) -> int:
    """Run a command in a running container."""
    from stackup.engine.runtime.container import StartError
    from stackup.engine.runtime.exec import exec_in

    if tty and not no_tty and not os.isatty(0):
        raise UserError("the input device is not a TTY: drop -t or use -T")
    try:
        return exec_in(_runtime(), container, list(command), _env(env), user, workdir,
                       tty=tty and not no_tty, interactive=interactive)
    except StartError as exc:
        print(f"stackup: {exc}", file=sys.stderr)
        return exc.exit_code
