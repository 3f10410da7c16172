"""Running a plan for a compose operation: its warnings, then the executor, with
every step reported as an event."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackup.project.events import OnEvent, PlanFinished, PlanStarted, PlanWarning
from stackup.project.plan import Plan

if TYPE_CHECKING:
    from stackup.project.engine_adapter import Engine
    from stackup.project.executor import Outcome


def apply_plan(plan: Plan, engine: Engine, on_event: OnEvent, *, raise_on_failure: bool = True) -> Outcome | None:
    """Execute `plan`; its outcome (None for an empty plan: the executor is not even
    imported, which keeps a no-change `up` fast). A failed operation raises
    ExecutionError unless `raise_on_failure` is False."""
    for warning in plan.warnings:
        on_event(PlanWarning(warning))
    if plan.is_empty():
        return None
    from stackup.project.executor import execute

    on_event(PlanStarted())
    try:
        outcome = execute(plan, engine, on_event=on_event)
    finally:
        on_event(PlanFinished())
    if raise_on_failure:
        outcome.raise_for_failure()
    return outcome
