"""`stackup up`: create and start the stack's containers (compose's flags).

Observe -> plan images -> execute -> observe again -> reconcile -> execute, under
the project's lock. `--dry-run` prints the plan and changes nothing. Attached (no
`-d`), the services' output is multiplexed with `name-1  | ` prefixes until every
container has exited; Ctrl-C stops the stack gracefully, a second Ctrl-C kills it.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import typer

from stackup.cli import commands
from stackup.errors import UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "up", up)


def up(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services (default: all)"),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run in the background"),
    build: bool = typer.Option(False, "--build", help="Build images before starting"),
    pull: str = typer.Option("policy", "--pull", help="Pull images: always, missing, never (default: each service's pull_policy)"),
    force_recreate: bool = typer.Option(False, "--force-recreate", help="Recreate containers even if unchanged"),
    always_recreate_deps: bool = typer.Option(False, "--always-recreate-deps", help="Recreate dependent containers"),
    no_recreate: bool = typer.Option(False, "--no-recreate", help="Don't recreate existing containers"),
    renew_anon_volumes: bool = typer.Option(False, "-V", "--renew-anon-volumes",
                                            help="Recreate anonymous volumes instead of retrieving data "
                                                 "from the previous containers"),
    no_deps: bool = typer.Option(False, "--no-deps", help="Don't start linked services"),
    no_start: bool = typer.Option(False, "--no-start", help="Create without starting"),
    wait: bool = typer.Option(False, "--wait", help="Wait for services to be running|healthy (implies -d)"),
    wait_timeout: int = typer.Option(None, "--wait-timeout", help="Maximum seconds to wait"),
    remove_orphans: bool = typer.Option(False, "--remove-orphans", help="Remove containers of services not in the stack"),
    abort_on_container_exit: bool = typer.Option(False, "--abort-on-container-exit",
                                                 help="Stop all containers if any container stops"),
    exit_code_from: str = typer.Option(None, "--exit-code-from", help="Return the exit code of this service's container"),
    scale: list[str] = typer.Option([], "--scale", help="SERVICE=NUM (repeatable)"),
    timeout: int = typer.Option(None, "-t", "--timeout", help="Shutdown timeout in seconds"),
    no_color: bool = typer.Option(False, "--no-color", help="Monochrome output"),
    no_log_prefix: bool = typer.Option(False, "--no-log-prefix", help="Don't prefix log lines"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.reconcile import UpOptions, plan_images, reconcile

    services = list(services or [])
    if exit_code_from:
        abort_on_container_exit = True
    if detach and abort_on_container_exit:
        raise UserError("-d and --abort-on-container-exit (or --exit-code-from) cannot be used together")
    if wait:
        detach = True
    if wait_timeout is not None and wait_timeout < 0:
        raise UserError("--wait-timeout must not be negative")
    sess = cc.session(ctx)
    sess.check_services(services)
    if exit_code_from and exit_code_from not in sess.services:
        raise UserError(f"--exit-code-from: no such service: {exit_code_from}")
    options = UpOptions(
        services=tuple(services), no_deps=no_deps, force_recreate=force_recreate,
        always_recreate_deps=always_recreate_deps, no_recreate=no_recreate, no_start=no_start,
        renew_anon_volumes=renew_anon_volumes,
        pull=pull, build=build, scale=cc.parse_scale(scale), remove_orphans=remove_orphans,
        timeout=cc.parse_timeout(timeout), wait=wait,
        wait_timeout=None if wait_timeout is None else float(wait_timeout),
        disabled_services=sess.disabled_services, config_files=sess.config_files,
        working_dir=sess.working_dir)
    from stackup.project.reconcile import selection_closure

    scope = selection_closure(sess.services, services, no_deps)
    sess.check_supported(sorted(scope))
    if dry_run:
        plan = reconcile(sess.desired, sess.observe(), options)
        text = plan.render()
        sys.stdout.write(text if text else "nothing to do: the stack is up to date\n")
        return 0
    with sess.locked():
        observed = sess.observe()
        images = plan_images(sess.desired, observed, options)
        if not images.is_empty():
            cc.run_plan(ctx, images, sess.engine)
            observed = sess.observe()   # the pulls may have changed image ids
        plan = reconcile(sess.desired, observed, _replace(options, images_resolved=True))
        cc.run_plan(ctx, plan, sess.engine)
    if detach or no_start:
        return 0
    return attach(ctx, sess, sorted(scope), options, abort_on_container_exit, exit_code_from,
                  colour=False if no_color else None, prefix=not no_log_prefix)


def _replace(options: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(options, **changes)


def attach(ctx: Any, sess: Any, services: list[str], options: Any, abort: bool,
           exit_code_from: str | None, *, colour: bool | None, prefix: bool) -> int:
    """Follow the services' output until their containers exit (or Ctrl-C)."""
    from stackup.cli import compose_common as cc

    states = cc.project_states(sess, services)
    printer = cc.LogPrinter([s["name"] for s in states], colour=colour, prefix=prefix)
    print("Attaching to " + ", ".join(s["name"] for s in states), file=sys.stderr)
    exited: list[dict[str, Any]] = []
    first_exit = threading.Event()
    lock = threading.Lock()

    def on_exit(state: dict[str, Any]) -> None:
        with lock:
            exited.append(state)
        code = state.get("exit_code")
        printer.line(state["name"], f"exited with code {code}")
        first_exit.set()

    interrupts = []

    def on_signal(signum: int, _frame: Any) -> None:
        interrupts.append(signum)
        first_exit.set()

    # before any output: a Ctrl-C from here on stops the stack, never just stackup
    previous = signal.signal(signal.SIGINT, on_signal), signal.signal(signal.SIGTERM, on_signal)
    try:
        threads = cc.follow_logs(sess.engine, states, printer, from_start=True, on_exit=on_exit)
        while any(t.is_alive() for t in threads):
            first_exit.wait(0.2)
            if interrupts or (abort and exited):
                break
            first_exit.clear()
        if interrupts or abort:
            if interrupts:
                print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr)
            _stop_all(ctx, sess, services, options.timeout, interrupts)
        for t in threads:
            t.join(timeout=5)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    if interrupts:
        return 130
    if exit_code_from:
        for state in cc.project_states(sess, [exit_code_from]):
            return int(state.get("exit_code") or 0)
        return 0
    if abort and exited:
        return int(exited[0].get("exit_code") or 0)
    return 0


def _stop_all(ctx: Any, sess: Any, services: list[str], timeout: float | None, interrupts: list[int]) -> None:
    """Stop the services' containers in reverse dependency order; a second Ctrl-C
    while stopping kills them instead."""
    from stackup.cli import compose_common as cc
    from stackup.project.lifecycle import plan_stop

    seen = len(interrupts)
    stopping = threading.Thread(target=lambda: cc.run_plan(ctx, plan_stop(sess.observe(), services, timeout),
                                                           sess.engine, raise_on_failure=False),
                                daemon=True)
    stopping.start()
    while stopping.is_alive():
        stopping.join(0.2)
        if len(interrupts) > seen:
            for state in cc.project_states(sess, services, running_only=True):
                try:
                    sess.engine.kill_container(state["id"])
                except Exception:  # noqa: BLE001 - it may have stopped meanwhile
                    pass
            seen = len(interrupts)
