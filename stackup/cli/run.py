"""`stackup run SERVICE [CMD...]`: a one-off container of a service. Its
dependencies are brought up first (unless --no-deps); the command runs attached
to the user's terminal (a tty, by compose's rule) or stdin and output, and its
exit code is stackup's."""

from __future__ import annotations

import os
import shlex
import signal
import sys
from typing import Any, Optional

import typer

from stackup.cli import commands
from stackup.errors import UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "run", run, context_settings={"allow_interspersed_args": False})


def run(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="Service"),
    command: list[str] = typer.Argument(None, help="Command and arguments"),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run in the background; print the name"),
    rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits"),
    name: str = typer.Option(None, "--name", help="Container name"),
    env: list[str] = typer.Option([], "-e", "--env", help="Set an environment variable"),
    entrypoint: str = typer.Option(None, "--entrypoint", help="Override the entrypoint"),
    no_tty: bool = typer.Option(False, "-T", "--no-TTY", "--no-tty",
                                help="Don't allocate a TTY (default: one when stdin and stdout are terminals)"),
    tty: Optional[bool] = typer.Option(None, "-t", "--tty", hidden=True, help="Allocate a TTY"),
    interactive: Optional[bool] = typer.Option(None, "-i", "--interactive/--no-interactive",
                                               help="Attach stdin (default: yes)"),
    no_deps: bool = typer.Option(False, "--no-deps", help="Don't start linked services"),
    service_ports: bool = typer.Option(False, "--service-ports", help="Publish the service's ports"),
    volume: list[str] = typer.Option([], "-v", "--volume", help="Bind mount a volume"),
    workdir: str = typer.Option(None, "-w", "--workdir", help="Working directory"),
    user: str = typer.Option(None, "-u", "--user", help="User"),
    label: list[str] = typer.Option([], "-l", "--label", help="Add a label KEY=VALUE"),
    pull: str = typer.Option("policy", "--pull", help="Pull images: always, missing, never"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project import naming
    from stackup.project.reconcile import RunOptions, plan_run

    if rm and detach:
        raise UserError("--rm and -d cannot be used together")
    use_tty, stdin_open = terminal_mode(tty=tty, no_tty=no_tty, interactive=interactive,
                                        stdin_tty=os.isatty(0), stdout_tty=os.isatty(1))
    sess = cc.session(ctx)
    sess.check_services([service])
    sess.check_supported([service])
    config = sess.services[service]
    overrides: dict[str, Any] = {"tty": use_tty, "stdin_open": stdin_open}  # run's own, as compose's
    if command:
        overrides["command"] = list(command)
    if entrypoint is not None:
        overrides["entrypoint"] = shlex.split(entrypoint) if entrypoint else []
        if not command:
            overrides["command"] = None
    if env:
        environment = dict(config.get("environment") or {})
        for item in env:
            key, sep, value = item.partition("=")
            environment[key] = value if sep else None
        overrides["environment"] = environment
    if volume:
        from stackup.shortsyntax import parse_volume

        overrides["volumes"] = list(config.get("volumes") or []) + [parse_volume(v) for v in volume]
    if workdir:
        overrides["working_dir"] = workdir
    if user:
        overrides["user"] = user
    if label:
        labels = dict(config.get("labels") or {})
        labels.update(dict(item.partition("=")[::2] for item in label))
        overrides["labels"] = labels
    token = naming.new_oneoff_token()
    # attached, we start it ourselves: after the shim is told to hold a tty's output
    options = RunOptions(token=token, no_deps=no_deps, overrides=overrides, service_ports=service_ports,
                         start=detach, pull=pull, config_files=sess.config_files,
                         working_dir=sess.working_dir)
    with sess.locked():
        plan = plan_run(sess.desired, sess.observe(), service, options)
        if name:
            for op in plan.ops:
                if op.request is not None and getattr(op.request, "name", None) == naming.oneoff_name(
                        sess.name, service, token):
                    import dataclasses

                    op.request = dataclasses.replace(op.request, name=name)
                    op.subject = name
        _quiet_progress(ctx)
        outcome = cc.run_plan(ctx, plan, sess.engine)
    create = [op for op in plan.ops if op.service == service and op.kind.value == "create"
              and op.request is not None and op.request.labels.get(naming.ONEOFF) == "True"][-1]
    cid = str(outcome.results[create.id])
    state = sess.engine.runtime.get(cid)
    if detach:
        print(state["name"])
        return 0
    return _attach(sess, state, rm, use_tty, stdin_open)


def terminal_mode(*, tty: bool | None, no_tty: bool, interactive: bool | None,
                  stdin_tty: bool, stdout_tty: bool) -> tuple[bool, bool]:
    """(allocate a tty, attach stdin) for `run`, by docker compose's rule (its
    cmd/compose/run.go): stdin is attached unless `--no-interactive`; a tty is
    allocated when stdout is a terminal, unless `-T`, or unless stdin is not a terminal
    and neither -T, -t nor -i was given (piped input); `-t` forces one. The service's
    own `tty` and `stdin_open` do not count: `run` sets both."""
    if tty is not None and no_tty:
        raise UserError("--tty and --no-TTY cannot be used together")
    attach_stdin = True if interactive is None else interactive
    if tty is not None:
        use_tty = tty
    elif no_tty or (interactive is None and not stdin_tty):
        use_tty = False
    else:
        use_tty = stdout_tty
    if use_tty and attach_stdin and not stdin_tty:
        raise UserError("the input device is not a TTY: use -T, or run from a terminal")
    return use_tty, attach_stdin


def _quiet_progress(ctx: typer.Context) -> None:
    """`run` shows the command's output, not the progress of its one container, unless
    the user asked for progress."""
    if getattr(ctx.obj, "progress", "auto") == "auto" and not sys.stderr.isatty():
        ctx.obj.progress = "quiet"


def _attach(sess: Any, state: dict[str, Any], rm: bool, tty: bool, interactive: bool) -> int:
    """Start the one-off container attached to our terminal (its pty with a tty, else
    our stdin to its stdin and its output to ours); its exit code."""
    from stackup.cli import attaching
    from stackup.engine.runtime.container import StartError

    runtime = sess.engine.runtime
    cid = state["id"]
    if tty:
        (runtime.cdir(cid) / "attach-wait").touch()  # the shim holds the output until we attach
    try:
        sess.engine.start_container(cid)
    except BaseException as exc:
        if rm:  # --rm: a container that could not start is not kept either
            sess.engine.remove_container(cid, True)
        if isinstance(exc, StartError):
            print(f"stackup: {exc}", file=sys.stderr)
            return exc.exit_code
        raise

    def forward(signum: int, _frame: Any) -> None:
        try:
            runtime.kill(cid, signum)
        except Exception:  # noqa: BLE001 - it may have exited meanwhile
            pass

    for s in (signal.SIGINT, signal.SIGTERM):  # with a tty, ^C reaches it through the pty
        signal.signal(s, forward)
    try:
        attaching.attach(runtime, cid, tty, interactive, from_start=True)
        return runtime.wait(cid)
    finally:
        if rm:  # also when attaching failed: --rm leaves nothing behind
            sess.engine.remove_container(cid, True)
