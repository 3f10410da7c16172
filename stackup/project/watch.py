"""`watch` (and `up --watch`): follow the `develop.watch` paths and bring each change to
the running services, as compose does.

The kernel's inotify reports changes through `watchfiles` (a Rust watcher that
follows new folders, and batches: a batch ends once no change came for `STEP_MS`,
or after `DEBOUNCE_MS` of steady changes). Each batch becomes per-service work
(`watchrules.plan`): rebuilds first (the builder's cache, then only that service's
containers recreated, as `up --build --no-deps SERVICE` does), then syncs (one tar
stream per container, deletions included), then restarts and `exec` hooks. A failure
is reported and the watch goes on, as compose's does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackup.errors import StackupError
from stackup.project.events import OnEvent, PlanWarning, WatchNote
from stackup.project.session import Session
from stackup.project.watchrules import Rule, Work, initial, plan, rules_of, watched_folders

STEP_MS = 30          # a batch ends after this long without a new change
DEBOUNCE_MS = 500     # ... or after this long of steady changes
POLL_MS = 200         # how often the watcher looks at the stop event


@dataclass(frozen=True)
class WatchOptions:
    services: tuple[str, ...] = ()
    timeout: float | None = None      # stop timeout of a restart


def check(session: Session, services: Sequence[str]) -> list[Rule]:
    """The rules of the services (a UserError when there are none), before anything starts."""
    session.check_services(services)
    return rules_of(session.desired or {}, services)


def watch(session: Session, options: WatchOptions, on_event: OnEvent, stop: threading.Event,
          on_ready: Callable[[], None] | None = None) -> None:
    """Watch until `stop` is set; `on_ready` once the watcher is armed (after the initial sync)."""
    import watchfiles

    rules = check(session, options.services)
    folders = watched_folders(rules)
    missing = [f for f in folders if not f.exists()]
    if missing:
        on_event(PlanWarning(f"watch: {missing[0]} does not exist: nothing under it is watched"))
    watcher = watchfiles.watch(*[f for f in folders if f.exists()], watch_filter=None, debounce=DEBOUNCE_MS,
                               step=STEP_MS, stop_event=stop, rust_timeout=POLL_MS, yield_on_timeout=True,
                               raise_interrupt=False)
    apply(session, initial(rules), options, on_event, initial_sync=True)
    ready = False
    for changes in watcher:
        if not ready:   # the first batch (or timeout): the kernel's watches are in place
            ready = True
            on_event(WatchNote("Watch enabled"))
            if on_ready is not None:
                on_ready()
        if changes:
            apply(session, plan(rules, [Path(path) for _, path in changes]), options, on_event)


def apply(session: Session, works: Mapping[str, Work], options: WatchOptions, on_event: OnEvent,
          initial_sync: bool = False) -> None:
    for service, work in sorted(works.items()):
        try:
            _apply(session, service, work, options, on_event, initial_sync)
        except StackupError as exc:
            on_event(PlanWarning(f"watch: service {service}: {exc}"))


def _apply(session: Session, service: str, work: Work, options: WatchOptions, on_event: OnEvent,
           initial_sync: bool) -> None:
    if work.rebuild:
        on_event(WatchNote(f"Rebuilding service {service!r} after changes were detected"))
        _rebuild(session, service, on_event)
        on_event(WatchNote(f"service {service!r} successfully built"))
        return
    containers = session.containers([service], running_only=True)
    if work.syncs:
        what = "Initial sync of" if initial_sync else "Syncing"
        on_event(WatchNote(f"{what} service {service!r} after {work.changed or len(work.copies)} "
                           "changes were detected"))
        copies = [(host, target) for target, host in sorted(work.copies.items())]
        for state in containers:
            session.engine.copy_into(state.id, copies, sorted(work.deletions))
    if work.restart:
        from stackup.project.control import restart

        on_event(WatchNote(f"Restarting service {service!r} after changes were detected"))
        restart(session, [service], options.timeout, on_event)
    for hook in work.execs:
        for state in session.containers([service], running_only=True):
            code = session.engine.exec_in(state.id, hook.command, hook.environment, hook.user, hook.working_dir,
                                          tty=False, interactive=False)
            if code != 0:
                on_event(PlanWarning(f"watch: {state.name}: {' '.join(hook.command)} exited {code}"))


def _rebuild(session: Session, service: str, on_event: OnEvent) -> None:
    from stackup.project.reconcile import UpOptions
    from stackup.project.up import up

    up(session, UpOptions(services=(service,), no_deps=True, build=True), on_event)
