"""Plans of the lifecycle commands on existing containers (pure, like `reconcile`).

`stop` stops dependents before their dependencies; `start` starts dependencies
first (waiting for nothing: compose's `start` does not check conditions either);
`restart` is a stop then a start of the same containers, and of the services that
declare `depends_on: {x: {restart: true}}` on a restarted one (as compose does);
`rm` removes stopped containers (with `-s`, stops them first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stackup.project.observed import ObservedContainer, Snapshot
from stackup.project.plan import Kind, Plan
from stackup.project.reconcile import dependency_order, stop_and_remove


def _chosen(observed: Snapshot, services: Sequence[str], oneoff: bool = False) -> list[ObservedContainer]:
    return [c for c in observed.containers
            if (not services or c.service in services) and (oneoff or not c.oneoff)]


def plan_stop(observed: Snapshot, services: Sequence[str] = (), timeout: float | None = None,
              desired: Mapping[str, Any] | None = None) -> Plan:
    plan = Plan(observed.project)
    stop_and_remove(plan, _chosen(observed, services, oneoff=not services), desired,
                    timeout=timeout, reason="stop", remove=False)
    return plan


def _start_order(containers: list[ObservedContainer], desired: Mapping[str, Any] | None) -> list[ObservedContainer]:
    graph: dict[str, Any] = {}
    for c in containers:
        graph.setdefault(c.service, {"depends_on": {}})["depends_on"].update(c.depends_on)
    if desired:
        for name, config in (desired.get("services") or {}).items():
            if name in graph:
                graph[name]["depends_on"].update((config or {}).get("depends_on") or {})
    for entry in graph.values():
        entry["depends_on"] = {d: {} for d in entry["depends_on"] if d in graph}
    rank = {s: i for i, s in enumerate(dependency_order(graph))}
    return sorted(containers, key=lambda c: (rank[c.service], c.number, c.name))


def plan_start(observed: Snapshot, services: Sequence[str] = (), desired: Mapping[str, Any] | None = None,
               after: Sequence[int] = (), plan: Plan | None = None) -> Plan:
    """Start the stopped containers, a service after the services it depends on."""
    plan = plan or Plan(observed.project)
    started: dict[str, list[int]] = {}
    chosen = _start_order(_chosen(observed, services), desired)
    for c in chosen:
        if c.running and not any(op.container == c.id for op in plan.ops):
            continue
        deps = list(after) + [op for d in c.depends_on for op in started.get(d, [])]
        op = plan.add(Kind.START, c.name, "start", deps, service=c.service, number=c.number, container=c.id)
        started.setdefault(c.service, []).append(op.id)
    return plan


def restart_dependents(observed: Snapshot, services: Sequence[str],
                       desired: Mapping[str, Any] | None = None) -> list[str]:
    """`services` and, transitively, the services that depend on one of them with
    `restart: true` (from the stack file, or the containers' labels without one)."""
    if not services:
        return []
    depends: dict[str, dict[str, Any]] = {}
    for c in observed.containers:
        depends.setdefault(c.service, {}).update(c.depends_on)
    for name, config in ((desired or {}).get("services") or {}).items():
        depends.setdefault(name, {}).update((config or {}).get("depends_on") or {})
    chosen = list(services)
    grown = True
    while grown:
        grown = False
        for service, deps in sorted(depends.items()):
            if service not in chosen and any(d in chosen and (spec or {}).get("restart")
                                             for d, spec in deps.items()):
                chosen.append(service)
                grown = True
    return chosen


def plan_restart(observed: Snapshot, services: Sequence[str] = (), timeout: float | None = None,
                 desired: Mapping[str, Any] | None = None) -> Plan:
    plan = Plan(observed.project)
    services = restart_dependents(observed, services, desired)
    stops = stop_and_remove(plan, _chosen(observed, services), desired, timeout=timeout,
                            reason="restart", remove=False)
    return plan_start(observed, services, desired, after=stops, plan=plan)


def plan_rm(observed: Snapshot, services: Sequence[str] = (), *, stop: bool = False,
            volumes: bool = False, timeout: float | None = None,
            desired: Mapping[str, Any] | None = None) -> Plan:
    """Remove the stopped containers (with `stop`, the running ones after stopping)."""
    plan = Plan(observed.project)
    chosen = [c for c in _chosen(observed, services) if stop or not c.running]
    stop_and_remove(plan, chosen, desired, timeout=timeout, reason="rm", remove=True, volumes=volumes)
    return plan
