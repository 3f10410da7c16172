"""`run SERVICE`: a one-off container of a service. Its dependencies are brought up
first (unless `no_deps`); attached, the command runs on the caller's terminal (its
pty with a tty, else stdin and output) and its exit code is the result."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from stackup.project import naming
from stackup.project.apply import apply_plan
from stackup.project.events import OnEvent
from stackup.project.plan import Kind, Plan
from stackup.project.reconcile import RunOptions, plan_run
from stackup.project.session import Session


@dataclass(frozen=True)
class OneOffOptions:
    """`run`'s flags, parsed: what replaces the service's own settings, and how the
    container runs."""

    service: str
    command: Sequence[str] = ()                       # empty: the service's (or image's)
    entrypoint: Sequence[str] | None = None           # None: the service's; [] clears it
    env: Mapping[str, str | None] = field(default_factory=dict)   # added to the service's
    volumes: Sequence[Mapping[str, Any]] = ()         # long form, added to the service's
    workdir: str | None = None
    user: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)       # added to the service's
    name: str | None = None                           # None: <project>-<service>-run-<token>
    tty: bool = False
    stdin_open: bool = False
    detach: bool = False                              # start it and return (else attach)
    rm: bool = False                                  # remove it once it has exited
    no_deps: bool = False
    service_ports: bool = False
    pull: str = "policy"
    build: bool = False                               # --build: build the image first


@dataclass(frozen=True)
class RunResult:
    container: str      # the one-off container's name
    exit_code: int      # its command's (0 when detached)


def overrides(config: Mapping[str, Any], options: OneOffOptions) -> dict[str, Any]:
    """The normalized attributes the one-off container runs with instead of the
    service's (`tty` and `stdin_open` always: `run` sets both, as compose does)."""
    result: dict[str, Any] = {"tty": options.tty, "stdin_open": options.stdin_open}
    if options.command:
        result["command"] = list(options.command)
    if options.entrypoint is not None:
        result["entrypoint"] = list(options.entrypoint)
        if not options.command:
            result["command"] = None
    if options.env:
        result["environment"] = {**(config.get("environment") or {}), **options.env}
    if options.volumes:
        result["volumes"] = list(config.get("volumes") or []) + [dict(v) for v in options.volumes]
    if options.workdir:
        result["working_dir"] = options.workdir
    if options.user:
        result["user"] = options.user
    if options.labels:
        result["labels"] = {**(config.get("labels") or {}), **options.labels}
    return result


def plan(session: Session, options: OneOffOptions, token: str) -> Plan:
    """The plan of `run` on the project as it is now (call under the project's lock)."""
    config = session.services[options.service]
    # attached, the caller starts it: after the shim is told to hold a tty's output
    run_options = RunOptions(token=token, no_deps=options.no_deps, overrides=overrides(config, options),
                             service_ports=options.service_ports, start=options.detach, pull=options.pull,
                             build=options.build,
                             config_files=session.config_files, working_dir=session.working_dir)
    result = plan_run(session.desired or {}, session.observe(), options.service, run_options)
    if options.name:
        default = naming.oneoff_name(session.name, options.service, token)
        for op in result.ops:
            if op.request is not None and getattr(op.request, "name", None) == default:
                op.request = dataclasses.replace(op.request, name=options.name)
                op.subject = options.name
    return result


def run(session: Session, options: OneOffOptions, on_event: OnEvent) -> RunResult:
    """Create the one-off container (and what it needs), then start it detached or
    attached to our terminal. A command that cannot start raises StartFailed (with
    `rm`, after removing the container)."""
    session.check_services([options.service])
    session.check_supported([options.service])
    session.engine.on_build = on_event   # the steps of the images it builds
    with session.locked():
        oneoff = plan(session, options, naming.new_oneoff_token())
        outcome = apply_plan(oneoff, session.engine, on_event)
    create = [op for op in oneoff.ops if op.service == options.service and op.kind is Kind.CREATE
              and op.request is not None and op.request.labels.get(naming.ONEOFF) == "True"][-1]
    assert outcome is not None   # the plan creates the container
    cid = str(outcome.results[create.id])
    state = session.engine.container(cid)
    if options.detach:
        return RunResult(state.name, 0)
    return RunResult(state.name, _attached(session, cid, options))


def _attached(session: Session, cid: str, options: OneOffOptions) -> int:
    """Start the container attached to our terminal; its exit code. Our interrupts
    are forwarded to it."""
    engine = session.engine
    try:
        engine.start_attached(cid, options.tty)
    except BaseException:
        if options.rm:  # --rm: a container that could not start is not kept either
            engine.remove_container(cid, True)
        raise

    def forward(signum: int, _frame: FrameType | None) -> None:
        try:
            engine.kill_container(cid, signum)
        except Exception:  # noqa: BLE001 - it may have exited meanwhile
            pass

    for s in (signal.SIGINT, signal.SIGTERM):  # with a tty, ^C reaches it through the pty
        signal.signal(s, forward)
    try:
        engine.attach_terminal(cid, options.tty, options.stdin_open, from_start=True)
        return engine.wait_exited(cid, None)
    finally:
        if options.rm:  # also when attaching failed: --rm leaves nothing behind
            engine.remove_container(cid, True)
