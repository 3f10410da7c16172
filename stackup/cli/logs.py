"""`stackup logs`: the output of the stack's containers, each line prefixed with
its container's name (coloured on a terminal)."""

from __future__ import annotations

import typer

from stackup.cli import commands
from stackup.errors import UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "logs", logs)


def logs(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services"),
    follow: bool = typer.Option(False, "-f", "--follow", help="Follow the output"),
    tail: str = typer.Option("all", "-n", "--tail", help="Lines from the end of each log, or all"),
    timestamps: bool = typer.Option(False, "-t", "--timestamps", help="Show timestamps"),
    since: str = typer.Option(None, "--since", help="Since a time or a duration (10m)"),
    until: str = typer.Option(None, "--until", help="Until a time or a duration (10m)"),
    no_color: bool = typer.Option(False, "--no-color", help="Monochrome output"),
    no_log_prefix: bool = typer.Option(False, "--no-log-prefix", help="Don't prefix lines"),
    index: int = typer.Option(None, "--index", help="Only the container with this number"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.engine_adapter import Engine

    if tail != "all" and not tail.isdigit():
        raise UserError(f"--tail {tail!r}: expected a number or all")
    lg = cc.runtime_logs()
    sess = cc.session(ctx, need_file=False)
    states = cc.project_states(sess, list(services or []), oneoff=None)
    if index is not None:
        states = [s for s in states if Engine.observed(s).number == index]
    since_at = lg.parse_since(since) if since else None
    until_at = lg.parse_since(until) if until else None
    printer = cc.LogPrinter([s["name"] for s in states], colour=False if no_color else None,
                            prefix=not no_log_prefix, timestamps=timestamps)
    entries = []
    for state in states:
        path = sess.engine.runtime.cdir(state["id"]) / "container.log"
        for entry in lg.select(path, None if tail == "all" else int(tail), since_at):
            if until_at is None or entry.get("time", "") <= until_at:
                entries.append((entry.get("time", ""), state["name"], entry))
    # one timeline: lines of all containers in the order they were written
    for _, name, entry in sorted(entries, key=lambda item: item[0]):
        printer.entry(name, entry)
    if follow:
        threads = cc.follow_logs(sess.engine, [s for s in states if Engine.observed(s).running],
                                 printer, from_start=False)
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)
        except KeyboardInterrupt:
            return 0
    return 0
