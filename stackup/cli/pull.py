"""`stackup pull` and `stackup push`: the stack's images from and to registries."""

from __future__ import annotations

import sys

import typer

from stackup.cli import commands
from stackup.errors import StackupError


def register(app: typer.Typer) -> None:
    commands.add(app, "pull", pull)
    commands.add(app, "push", push)


def _refs(sess, services: list[str], with_build: bool) -> list[tuple[str, str]]:
    from stackup.project import naming

    sess.check_services(services)
    refs = []
    for name in sorted(services or sess.services):
        config = sess.services[name] or {}
        if not with_build and config.get("build") and not config.get("image"):
            continue
        refs.append((name, naming.service_image(sess.name, name, config)))
    return refs


def pull(ctx: typer.Context, services: list[str] = typer.Argument(None, help="Services"),
         ignore_pull_failures: bool = typer.Option(False, "--ignore-pull-failures", help="Keep going on failures"),
         quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress")) -> int:
    from stackup.cli import compose_common as cc

    sess = cc.session(ctx)
    failures = []
    for service, ref in _refs(sess, list(services or []), with_build=False):
        try:
            if not quiet:
                print(f" Image {ref}  Pulling", file=sys.stderr)
            sess.engine.pull_image(ref)
            if not quiet:
                print(f" Image {ref}  Pulled", file=sys.stderr)
        except StackupError as exc:
            failures.append(f"service {service}: pull {ref}: {exc}")
    if failures and not ignore_pull_failures:
        raise StackupError(failures[0], problems=failures)
    for line in failures:
        print(f"stackup: warning: {line}", file=sys.stderr)
    return 0


def push(ctx: typer.Context, services: list[str] = typer.Argument(None, help="Services"),
         ignore_push_failures: bool = typer.Option(False, "--ignore-push-failures", help="Keep going on failures")) -> int:
    from stackup.cli import compose_common as cc

    sess = cc.session(ctx)
    failures = []
    for service, ref in _refs(sess, list(services or []), with_build=True):
        try:
            print(f" Image {ref}  Pushing", file=sys.stderr)
            sess.engine.push_image(ref)
            print(f" Image {ref}  Pushed", file=sys.stderr)
        except StackupError as exc:
            failures.append(f"service {service}: push {ref}: {exc}")
    if failures and not ignore_push_failures:
        raise StackupError(failures[0], problems=failures)
    return 0
