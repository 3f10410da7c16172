"""`stackup image build`'s flags, mapped onto the builder's options (docker build's
rules: `-f` is relative to the current folder, `-f -` reads the Dockerfile from
stdin, a value-less `--build-arg` takes the environment's value), and the build run
with its progress shown."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stackup.engine.build.model import BuildOptions, StepEvent, StepOutput
from stackup.errors import StackupError, UnsupportedError, UserError

if TYPE_CHECKING:
    from stackup.cli.build_progress import BuildView
    from stackup.engine.images.store import Image


def build_options(context: str, *, tags: Sequence[str] = (), file: str | None = None, target: str = "",
                  args: Mapping[str, str | None] | None = None, no_cache: bool = False, pull: bool = False,
                  labels: Sequence[str] = (), network: str = "default", add_hosts: Sequence[str] = (),
                  secrets: Sequence[str] = (), platform: str | None = None,
                  environ: Mapping[str, str] | None = None, stdin_text: str | None = None) -> BuildOptions:
    """BuildOptions for `image build`; UserError (exit 2) naming the flag on bad input."""
    from stackup.engine.images.reference import parse_reference
    from stackup.stackfile.support import is_url

    environ = os.environ if environ is None else environ
    if context == "-":
        raise UnsupportedError("image build -: a context from stdin is not supported by stackup; give a folder")
    if is_url(context):
        raise UnsupportedError(f"image build {context}: a git or archive URL context is not supported by stackup; "
                               "clone or unpack it and give the folder")
    folder = Path(context)
    if not folder.is_dir():
        raise UserError(f"image build: context {context!r} is not a folder")
    for tag in tags:
        try:
            parse_reference(tag)
        except UserError as exc:
            raise UserError(f"-t {tag!r}: {exc}") from None
    dockerfile, inline = None, None
    if file == "-":
        inline = sys.stdin.read() if stdin_text is None else stdin_text
    elif file:
        dockerfile = Path(file).absolute()
    if network not in ("default", "none", "host"):
        raise UnsupportedError(f"--network {network!r}: stackup builds on default, none or host")
    return BuildOptions(
        context=folder.absolute(), dockerfile=dockerfile, dockerfile_inline=inline, target=target,
        build_args={k: v if v is not None else environ[k] for k, v in (args or {}).items()
                    if v is not None or k in environ},
        labels=dict(_key_value(item, "--label") for item in labels),
        tags=list(dict.fromkeys(tags)), no_cache=no_cache, pull=pull, network=network,
        extra_hosts=[_host(item) for item in add_hosts], secrets=dict(_secret(item) for item in secrets),
        platform=_platform(platform))


def _key_value(item: str, flag: str) -> tuple[str, str]:
    key, _, value = item.partition("=")
    if not key:
        raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
    return key, value


def _host(item: str) -> str:
    name, sep, address = item.partition(":")
    if not sep:
        name, sep, address = item.partition("=")
    if not (name and sep and address):
        raise UserError(f"--add-host {item!r}: expected HOST:IP")
    return f"{name}={address}"


def _secret(item: str) -> tuple[str, Path]:
    """`id=ID,src=PATH` (also `source=`, `type=file`); the id defaults to the file's name."""
    fields = dict(_key_value(part, "--secret") for part in item.split(",") if part)
    if fields.pop("type", "file") != "file":
        raise UnsupportedError(f"--secret {item!r}: only file secrets are supported by stackup")
    src = fields.pop("src", None) or fields.pop("source", None)
    if not src or fields.keys() - {"id"}:
        raise UserError(f"--secret {item!r}: expected id=ID,src=PATH")
    path = Path(src).absolute()
    if not path.is_file():
        raise UserError(f"--secret {item!r}: {src} is not a file")
    return fields.get("id") or path.name, path


def _platform(text: str | None) -> str:
    if not text:
        return ""
    from stackup.engine.images import platform

    native, wanted = platform.host(), platform.parse(text)
    if not native.matches({"os": wanted.os, "architecture": wanted.architecture, "variant": wanted.variant}):
        raise UnsupportedError(f"--platform {text}: stackup builds for this machine's platform only ({native})")
    return str(native)


def run_build(options: BuildOptions, view: BuildView) -> Image:
    """Build, showing each step; a failure raises BuildFailed with the failing step's
    last lines (exit code 1), bad input the builder's UserError (exit code 2)."""
    from stackup.engine.build import build
    from stackup.project.build import StepTail

    tail = StepTail()

    def progress(event: StepEvent | StepOutput) -> None:
        tail(event)
        view("", event)

    try:
        return build(options, progress)
    except UserError:
        raise
    except StackupError as exc:
        raise tail.failure(exc) from exc

