"""`pull` and `push`: the stack's images from and to their registries, one service
after the other, each reported as an `ImageChanged` event."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stackup.errors import StackupError
from stackup.project import naming
from stackup.project.events import ImageChanged, OnEvent, PlanWarning
from stackup.project.session import Session


def image_refs(session: Session, services: Sequence[str], *, with_build: bool) -> list[tuple[str, str]]:
    """(service, image reference) of the services (default: all), in name order; a
    service that only builds its image has none to pull (`with_build`: it has one to push)."""
    session.check_services(services)
    refs = []
    for name in sorted(services or session.services):
        config = session.services[name] or {}
        if not with_build and config.get("build") and not config.get("image"):
            continue
        refs.append((name, naming.service_image(session.name, name, config)))
    return refs


def pull(session: Session, services: Sequence[str], on_event: OnEvent, *, ignore_failures: bool = False) -> None:
    """Pull every service's image; failures raise together at the end (with
    `ignore_failures`, each is a warning instead)."""
    refs = image_refs(session, services, with_build=False)
    failures = _transfer(refs, "pull", ("Pulling", "Pulled"), session.engine.pull_image, on_event)
    if failures and not ignore_failures:
        raise StackupError(failures[0], problems=failures)
    for line in failures:
        on_event(PlanWarning(line))


def push(session: Session, services: Sequence[str], on_event: OnEvent, *, ignore_failures: bool = False) -> None:
    """Push every service's image (built ones too); failures raise together at the end
    (with `ignore_failures`, they are dropped)."""
    refs = image_refs(session, services, with_build=True)
    failures = _transfer(refs, "push", ("Pushing", "Pushed"), session.engine.push_image, on_event)
    if failures and not ignore_failures:
        raise StackupError(failures[0], problems=failures)


def _transfer(refs: list[tuple[str, str]], verb: str, words: tuple[str, str], action: Callable[[str], None],
              on_event: OnEvent) -> list[str]:
    """Apply `action` to each reference, reporting it; one line per failure."""
    failures = []
    for service, ref in refs:
        try:
            on_event(ImageChanged(ref, words[0]))
            action(ref)
            on_event(ImageChanged(ref, words[1]))
        except StackupError as exc:
            failures.append(f"service {service}: {verb} {ref}: {exc}")
    return failures
