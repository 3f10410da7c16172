"""`build`: the stack's images, built as compose's `build` command builds them.

Every selected service with a `build:` section is built (whether or not its image is
present), with `--with-dependencies` also those it depends on, and always the
services whose image a build takes as a `service:NAME` context, before it. Builds
that do not need each other run at once (the executor's threads). With `push`, the
images of services that name one (`image:`) are pushed afterwards, as compose does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackup.errors import StackupError, UserError
from stackup.project.apply import apply_plan
from stackup.project.build import BuildFlags, build_section, service_build
from stackup.project.events import ImageChanged, OnEvent
from stackup.project.plan import BuildRequest, Kind, Plan
from stackup.project.reconcile import dependency_order, selection_closure
from stackup.project.session import Session


@dataclass(frozen=True)
class BuildCommandOptions:
    """`stackup build`'s flags."""

    services: tuple[str, ...] = ()         # empty: every service
    with_dependencies: bool = False
    flags: BuildFlags = field(default_factory=BuildFlags)
    push: bool = False
    working_dir: str | None = None


def plan_build(desired: Mapping[str, Any], options: BuildCommandOptions) -> Plan:
    """One BUILD per service to build, each after the builds of its `service:` contexts."""
    services: Mapping[str, Any] = desired.get("services") or {}
    project = str(desired.get("name") or "")
    scope = selection_closure(services, options.services, no_deps=not options.with_dependencies)
    plan = Plan(project)
    ops: dict[str, int] = {}

    def add(service: str, reason: str, visiting: tuple[str, ...]) -> int | None:
        if service in ops:
            return ops[service]
        if service in visiting:
            cycle = " -> ".join(visiting[visiting.index(service):] + (service,))
            raise UserError(f"services.{service}.build.additional_contexts: the services' builds need each "
                            f"other ({cycle})")
        config = services.get(service) or {}
        if build_section(config) is None:
            return None   # its image is used as it is (it must be present)
        spec = service_build(project, service, config, services=services, secrets=desired.get("secrets") or {},
                             project_dir=options.working_dir or ".", flags=options.flags)
        plan.warnings.extend(w for w in spec.warnings if w not in plan.warnings)
        deps = [add(dep, f"{service} builds from its image", visiting + (service,)) for dep in spec.depends_on]
        op = plan.add(Kind.BUILD, spec.image, reason, deps, service=service,
                      request=BuildRequest(service, spec.image, config.get("build") or {}, spec))
        ops[service] = op.id
        return op.id

    for service in dependency_order(services):
        if service in scope:
            add(service, "stackup build", ())
    return plan


def build(session: Session, options: BuildCommandOptions, on_event: OnEvent, *, dry_run: bool = False) -> Plan:
    """Build (and with `push`, push) the selected services' images; the plan it ran."""
    from dataclasses import replace

    session.check_services(options.services)
    options = replace(options, working_dir=options.working_dir or session.working_dir)
    plan = plan_build(session.desired or {}, options)
    if dry_run:
        return plan
    session.engine.on_build = on_event
    apply_plan(plan, session.engine, on_event)
    if options.push:
        push_built(session, plan, on_event)
    return plan


def push_built(session: Session, plan: Plan, on_event: OnEvent) -> None:
    """Push the built images of the services that name theirs (`image:`)."""
    failures = []
    for op in plan.of_kind(Kind.BUILD):
        if not (session.services.get(str(op.service)) or {}).get("image"):
            continue
        try:
            on_event(ImageChanged(op.subject, "Pushing"))
            session.engine.push_image(op.subject)
            on_event(ImageChanged(op.subject, "Pushed"))
        except StackupError as exc:
            failures.append(f"service {op.service}: push {op.subject}: {exc}")
    if failures:
        raise StackupError(failures[0], problems=failures)
