"""Run a plan: every operation as soon as the ones it depends on are done, several
at once, deciding nothing.

The executor maps each operation to one call of `EngineActions` (the engine side
implements it) and reports progress events. When an operation fails it schedules
nothing new, lets the running ones finish, and returns which operation failed and
why (with the last lines of the container's log for a start or a wait), plus the
operations it never ran. A best-effort operation's failure is only a warning.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stackup.errors import StackupError, UserError
from stackup.project.plan import (
    COMPLETED,
    HEALTHY,
    READY,
    BuildRequest,
    ContainerRequest,
    Kind,
    NetworkRequest,
    Op,
    Plan,
    VolumeRequest,
)
from stackup.project.progress import DONE, ERROR, WARNING, WORKING, Event

LOG_LINES = 10


class EngineActions(Protocol):
    """What the executor asks of the engine. Containers are named by id (or, for
    WAIT targets, by name). Every method raises on failure (a `StackupError` for
    expected failures, with a message meant for the user) and must be safe to
    call from several threads at once."""

    def create_network(self, request: NetworkRequest) -> None: ...

    def create_volume(self, request: VolumeRequest) -> None: ...

    def pull_image(self, reference: str) -> None: ...

    def build_image(self, request: BuildRequest) -> None: ...

    def create_container(self, request: ContainerRequest) -> str:
        """Create (not start) the container; return its id. Adds the label
        `naming.IMAGE` with the id of the image it was created from."""
        ...

    def start_container(self, container: str) -> None: ...

    def unpause_container(self, container: str) -> None: ...

    def stop_container(self, container: str, timeout: float | None) -> None:
        """Stop signal, `timeout` seconds (None: the container's stop_grace_period),
        then SIGKILL. Must also stop a paused container."""
        ...

    def rename_container(self, container: str, new_name: str) -> None:
        """Rename a (stopped) container; its old name is free afterwards."""
        ...

    def remove_container(self, container: str, volumes: bool) -> None:
        """Remove a stopped container (with `volumes`, its anonymous volumes too)."""
        ...

    def wait_healthy(self, container: str, timeout: float | None) -> None:
        """Return once the container is healthy; raise if it turns unhealthy, exits,
        has no healthcheck, or `timeout` seconds pass."""
        ...

    def wait_exited(self, container: str, timeout: float | None) -> int:
        """Return the container's exit code once it has exited."""
        ...

    def wait_ready(self, container: str, timeout: float | None) -> None:
        """`up --wait`: healthy if the container has a healthcheck, else running."""
        ...

    def remove_network(self, name: str) -> None: ...

    def remove_volume(self, name: str) -> None: ...

    def remove_image(self, reference: str) -> None: ...

    def log_tail(self, container: str, lines: int) -> list[str]:
        """The last `lines` lines of the container's output (for error reports)."""
        ...


class WaitFailed(StackupError):
    """A container a WAIT operation checked did not meet the condition."""

    def __init__(self, container: str, message: str):
        super().__init__(message)
        self.container = container


@dataclass
class Failure:
    """An operation that failed: the error, and the last log lines of its container if any."""

    op: Op
    error: BaseException
    log: list[str] = field(default_factory=list)
    container: str | None = None

    def lines(self) -> list[str]:
        lines = [f"{_resource(self.op, self.container)}: {self.op.describe()} failed: {self.error}"]
        if self.op.kind in (Kind.PULL, Kind.BUILD) and self.op.service:
            lines[0] = f"service {self.op.service}: {lines[0]}"  # the image is named, not its user
        name = self.container or self.op.subject
        lines += [f"  {name} | {line}" for line in self.log]
        return lines


class ExecutionError(StackupError):
    def __init__(self, failures: list[Failure]):
        lines = [line for failure in failures for line in failure.lines()]
        super().__init__(lines[0] if lines else "the plan failed", problems=lines)
        self.failures = failures
        # a build refused for bad input (a Dockerfile error, a missing file) is the
        # user's to fix: exit code 2, as `stackup build` alone gives
        if failures and all(f.op.kind is Kind.BUILD and isinstance(f.error, UserError) for f in failures):
            self.exit_code = UserError.exit_code


@dataclass
class Outcome:
    """What a run of a plan did: operations done, failed, warned about, never run, and results."""

    done: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    results: dict[int, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def raise_for_failure(self) -> None:
        if self.failures:
            raise ExecutionError(self.failures)


# (resource kind, status while working, status when done) per operation kind
_WORDS: dict[Kind, tuple[str, str, str]] = {
    Kind.CREATE_NETWORK: ("Network", "Creating", "Created"),
    Kind.CREATE_VOLUME: ("Volume", "Creating", "Created"),
    Kind.PULL: ("Image", "Pulling", "Pulled"),
    Kind.BUILD: ("Image", "Building", "Built"),
    Kind.CREATE: ("Container", "Creating", "Created"),
    Kind.START: ("Container", "Starting", "Started"),
    Kind.UNPAUSE: ("Container", "Unpausing", "Unpaused"),
    Kind.STOP: ("Container", "Stopping", "Stopped"),
    Kind.RENAME: ("Container", "Moving aside", "Moved aside"),
    Kind.REMOVE: ("Container", "Removing", "Removed"),
    Kind.WAIT: ("Container", "Waiting", "Ready"),
    Kind.REMOVE_NETWORK: ("Network", "Removing", "Removed"),
    Kind.REMOVE_VOLUME: ("Volume", "Removing", "Removed"),
    Kind.REMOVE_IMAGE: ("Image", "Removing", "Removed"),
}
_WAIT_DONE = {HEALTHY: "Healthy", COMPLETED: "Exited", READY: "Ready"}


def _resource(op: Op, name: str | None = None) -> str:
    return f"{_WORDS[op.kind][0]} {name or op.subject}"


class _Run:
    def __init__(self, plan: Plan, actions: EngineActions, emit: Callable[[Event], None]):
        self.plan = plan
        self.actions = actions
        self.emit = emit
        self.results: dict[int, Any] = {}

    def container_of(self, op: Op) -> str:
        if op.container:
            return op.container
        if op.created_by is None or op.created_by not in self.results:
            raise StackupError(f"no container for {op.describe()}")
        return str(self.results[op.created_by])

    def run(self, op: Op) -> Any:
        kind, working, done = _WORDS[op.kind]
        if op.kind is Kind.WAIT:
            return self.wait(op)
        self.emit(Event(_resource(op), working, WORKING))
        result = self.call(op)
        self.emit(Event(_resource(op), done, DONE))
        return result

    def call(self, op: Op) -> Any:
        a = self.actions
        match op.kind:
            case Kind.CREATE_NETWORK:
                return a.create_network(op.request)
            case Kind.CREATE_VOLUME:
                return a.create_volume(op.request)
            case Kind.PULL:
                if isinstance(op.request, BuildRequest):
                    return self.pull_else_build(op, op.request)
                return a.pull_image(op.subject)
            case Kind.BUILD:
                return a.build_image(op.request)
            case Kind.CREATE:
                return a.create_container(op.request)
            case Kind.START:
                return a.start_container(self.container_of(op))
            case Kind.UNPAUSE:
                return a.unpause_container(self.container_of(op))
            case Kind.STOP:
                return a.stop_container(self.container_of(op), op.timeout)
            case Kind.RENAME:
                return a.rename_container(self.container_of(op), str(op.new_name))
            case Kind.REMOVE:
                return a.remove_container(self.container_of(op), op.volumes)
            case Kind.REMOVE_NETWORK:
                return a.remove_network(op.subject)
            case Kind.REMOVE_VOLUME:
                return a.remove_volume(op.subject)
            case Kind.REMOVE_IMAGE:
                return a.remove_image(op.subject)
        raise StackupError(f"unknown operation {op.kind}")

    def pull_else_build(self, op: Op, request: BuildRequest) -> None:
        """The plan's "built if the pull fails": a service with `image:` and `build:`
        whose image no registry gives (compose's rule)."""
        try:
            self.actions.pull_image(op.subject)
        except StackupError as error:
            self.emit(Event(_resource(op), f"Building (pull failed: {error})", WORKING))
            self.actions.build_image(request)

    def wait(self, op: Op) -> None:
        """Every target container must meet the condition (checked one by one:
        the slowest decides anyway)."""
        for target in op.targets:
            self.emit(Event(f"Container {target}", "Waiting", WORKING))
            try:
                if op.condition == HEALTHY:
                    self.actions.wait_healthy(target, op.timeout)
                elif op.condition == COMPLETED:
                    code = self.actions.wait_exited(target, op.timeout)
                    if code != 0:
                        raise WaitFailed(target, f"{target} exited with code {code}")
                elif op.condition == READY:
                    self.actions.wait_ready(target, op.timeout)
                else:
                    raise StackupError(f"unknown wait condition {op.condition!r}")
            except WaitFailed:
                raise
            except Exception as error:
                raise WaitFailed(target, str(error)) from error
            self.emit(Event(f"Container {target}", _WAIT_DONE.get(str(op.condition), "Ready"), DONE))

    def failure(self, op: Op, error: BaseException) -> Failure:
        container = error.container if isinstance(error, WaitFailed) else None
        failure = Failure(op, error, container=container)
        if container is None and op.kind is Kind.START:
            try:
                container = self.container_of(op)
            except StackupError:
                container = None
        if op.kind in (Kind.BUILD, Kind.PULL):  # a failed build's last output lines
            failure.log = [str(line) for line in getattr(error, "tail", [])][-LOG_LINES:]
        if container is not None:
            try:
                failure.log = list(self.actions.log_tail(container, LOG_LINES))
            except Exception:  # the log is a courtesy; the failure itself is what matters
                failure.log = []
        return failure


def execute(plan: Plan, actions: EngineActions, *, workers: int = 4,
            on_event: Callable[[Event], None] | None = None) -> Outcome:
    """Run `plan` with at most `workers` operations at once; see the module doc."""
    emit = on_event or (lambda event: None)
    runner = _Run(plan, actions, emit)
    outcome = Outcome(results=runner.results)
    pending = {op.id: op for op in plan.ops}
    done: set[int] = set()
    # Ready operations queue in `ready` (in id order, as in a pool's queue) and start, each
    # in a thread of its own, while fewer than `workers` run. Plain threads, since
    # concurrent.futures would load logging into every command.
    ready: list[Op] = []          # like work submitted to a pool, they run even after a failure
    running: dict[int, Op] = {}
    finished: queue.SimpleQueue[tuple[Op, Any, BaseException | None]] = queue.SimpleQueue()
    workers = max(1, workers)
    stopping = False
    threads: list[threading.Thread] = []
    try:
        while True:
            if not stopping:
                for op_id in sorted(pending):
                    op = pending[op_id]
                    if all(dep in done for dep in op.deps):
                        del pending[op_id]
                        ready.append(op)
            while ready and len(running) < workers:
                op = ready.pop(0)
                running[op.id] = op
                thread = threading.Thread(target=_work, args=(runner.run, op, finished),
                                          name=f"stackup-op-{op.id}")
                thread.start()
                threads.append(thread)
            if not running:
                break
            batch = [finished.get()]  # the next one to finish, then any others already done
            while not finished.empty():
                batch.append(finished.get())
            for op, result, error in sorted(batch, key=lambda item: item[0].id):
                del running[op.id]
                if error is None:
                    runner.results[op.id] = result
                    done.add(op.id)
                    outcome.done.append(op.id)
                    continue
                failure = runner.failure(op, error)
                resource = _resource(op, failure.container)
                if op.best_effort:
                    emit(Event(resource, "Warning", WARNING, str(error)))
                    outcome.warnings.append(failure)
                    done.add(op.id)
                    outcome.done.append(op.id)
                else:
                    emit(Event(resource, "Error", ERROR, str(error)))
                    outcome.failures.append(failure)
                    stopping = True
    finally:  # as a pool would: no operation still running when this returns (or raises)
        for thread in threads:
            thread.join()
    outcome.skipped = sorted(pending)
    return outcome


def _work(run: Callable[[Op], Any], op: Op, finished: queue.SimpleQueue) -> None:
    """Run one operation and hand its result or error back to the executor."""
    try:
        result = run(op)
    except BaseException as error:  # noqa: BLE001 - handed to the executor, which reports it
        finished.put((op, None, error))
    else:
        finished.put((op, result, None))
