"""`down`: stop and remove the project's containers and networks (with `volumes` its
volumes, with `rmi` its images). Works from labels alone, so a session without a
stack file takes down whatever the project left."""

from __future__ import annotations

import dataclasses

from stackup.project.apply import apply_plan
from stackup.project.events import OnEvent, PlanPreview
from stackup.project.reconcile import DownOptions, plan_down
from stackup.project.session import Session

NOTHING_TO_DO = "nothing to do\n"


def down(session: Session, options: DownOptions, on_event: OnEvent, *, dry_run: bool = False) -> int:
    options = dataclasses.replace(options, disabled_services=session.disabled_services)
    with session.locked():
        plan = plan_down(session.observe(images_too=False), options, session.desired)  # no image ids needed
        if dry_run:
            on_event(PlanPreview(plan.render() or NOTHING_TO_DO))
            return 0
        apply_plan(plan, session.engine, on_event)
    return 0
