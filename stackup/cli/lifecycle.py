"""start, stop, restart, pause, unpause, kill, rm and wait on a stack's services."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from stackup.cli import commands
from stackup.errors import UserError

if TYPE_CHECKING:
    from stackup.engine.runtime.containerstate import Status

DONE = {"pause_container": "Paused", "unpause_container": "Unpaused", "kill_container": "Killed"}
SERVICES = typer.Argument(None, help="Services (default: all)")


def register(app: typer.Typer) -> None:
    commands.add(app, "start", start)
    commands.add(app, "stop", stop)
    commands.add(app, "restart", restart)
    commands.add(app, "pause", pause)
    commands.add(app, "unpause", unpause)
    commands.add(app, "kill", kill)
    commands.add(app, "rm", rm)
    commands.add(app, "wait", wait)


def _session(ctx: typer.Context, services: list[str] | None):
    from stackup.cli import compose_common as cc

    sess = cc.session(ctx, need_file=False)
    if services and sess.desired is not None:
        sess.check_services(services)
    return sess


def start(ctx: typer.Context, services: list[str] = SERVICES) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.lifecycle import plan_start

    sess = _session(ctx, services)
    with sess.locked():
        observed = sess.observe()
        if not any(not c.oneoff and (not services or c.service in services) for c in observed.containers):
            raise UserError("no containers to start: run `stackup up` first")
        cc.run_plan(ctx, plan_start(observed, services or [], sess.desired), sess.engine)
    return 0


def stop(ctx: typer.Context, services: list[str] = SERVICES,
         timeout: int = typer.Option(None, "-t", "--timeout", help="Seconds before killing")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.lifecycle import plan_stop

    sess = _session(ctx, services)
    with sess.locked():
        cc.run_plan(ctx, plan_stop(sess.observe(), services or [], cc.parse_timeout(timeout), sess.desired),
                    sess.engine)
    return 0


def restart(ctx: typer.Context, services: list[str] = SERVICES,
            timeout: int = typer.Option(None, "-t", "--timeout", help="Seconds before killing")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.lifecycle import plan_restart

    sess = _session(ctx, services)
    with sess.locked():
        cc.run_plan(ctx, plan_restart(sess.observe(), services or [], cc.parse_timeout(timeout), sess.desired),
                    sess.engine)
    return 0


def _each(ctx: typer.Context, services: list[str] | None, action: str,
          allowed: Callable[[Status], bool], **kw) -> int:
    """Apply a one-container action to every matching container whose status allows it,
    in parallel-free order; one line per failure naming the container."""
    from stackup.cli import compose_common as cc
    from stackup.engine.runtime.containerstate import Status
    from stackup.errors import StackupError

    sess = _session(ctx, services)
    failures = []
    with sess.locked():
        for state in cc.project_states(sess, services or []):
            if not allowed(Status(state["status"])):
                continue
            try:
                getattr(sess.engine, action)(state["id"], **kw)
                print(f" Container {state['name']}  {DONE[action]}", file=sys.stderr)
            except StackupError as exc:
                failures.append(f"container {state['name']}: {exc}")
    if failures:
        raise StackupError(failures[0], problems=failures)
    return 0


def pause(ctx: typer.Context, services: list[str] = SERVICES) -> int:
    from stackup.engine.runtime.containerstate import Status

    return _each(ctx, services, "pause_container", Status.can_pause)


def unpause(ctx: typer.Context, services: list[str] = SERVICES) -> int:
    from stackup.engine.runtime.containerstate import Status

    return _each(ctx, services, "unpause_container", Status.can_unpause)


def kill(ctx: typer.Context, services: list[str] = SERVICES,
         signal_: str = typer.Option("SIGKILL", "-s", "--signal", help="Signal to send")) -> int:
    from stackup.engine.runtime.containerstate import Status

    return _each(ctx, services, "kill_container", Status.can_stop, signal=signal_)


def rm(ctx: typer.Context, services: list[str] = SERVICES,
       force: bool = typer.Option(False, "-f", "--force", help="Don't ask (stackup never asks)"),
       stop_first: bool = typer.Option(False, "-s", "--stop", help="Stop the containers first"),
       volumes: bool = typer.Option(False, "-v", "--volumes", help="Remove their anonymous volumes")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.lifecycle import plan_rm

    sess = _session(ctx, services)
    with sess.locked():
        plan = plan_rm(sess.observe(), services or [], stop=stop_first, volumes=volumes, desired=sess.desired)
        if plan.is_empty():
            print("No stopped containers", file=sys.stderr)
            return 0
        cc.run_plan(ctx, plan, sess.engine)
    return 0


def wait(ctx: typer.Context, services: list[str] = SERVICES,
         down_project: bool = typer.Option(False, "--down-project", help="Take the project down after the first exits")) -> int:
    """Block until the services' containers exit; exit code of the first."""
    from stackup.cli import compose_common as cc

    sess = _session(ctx, services)
    states = cc.project_states(sess, services or [])
    if not states:
        raise UserError("no containers to wait for")
    code = 0
    for i, state in enumerate(states):
        result = sess.engine.wait_exited(state["id"], None)
        print(result)
        if i == 0:
            code = result
        if down_project:
            break
    if down_project:
        from stackup.project.reconcile import DownOptions, plan_down

        with sess.locked():
            cc.run_plan(ctx, plan_down(sess.observe(), DownOptions(), sess.desired), sess.engine)
    return code
