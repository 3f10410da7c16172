"""`run`'s terminal: docker compose's rule for allocating a TTY and attaching stdin,
and its refusals (one line, exit 2, nothing made)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackup.cli.run import terminal_mode
from stackup.errors import UserError
from stackup.project import containerspec as cs

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "web" / "compose.yaml"


def mode(tty=None, no_tty=False, interactive=None, stdin_tty=True, stdout_tty=True):
    return terminal_mode(tty=tty, no_tty=no_tty, interactive=interactive, stdin_tty=stdin_tty,
                         stdout_tty=stdout_tty)


@pytest.mark.parametrize("flags, stdin_tty, stdout_tty, expected", [
    ({}, True, True, (True, True)),                        # a terminal: an interactive shell
    ({}, False, True, (False, True)),                      # piped input: stdin, no tty
    ({}, True, False, (False, True)),                      # output to a pipe or file: no tty
    ({}, False, False, (False, True)),
    ({"no_tty": True}, True, True, (False, True)),         # -T
    ({"no_tty": True}, False, True, (False, True)),
    ({"interactive": False}, True, True, (True, False)),   # --no-interactive: output only
    ({"interactive": False}, False, True, (True, False)),  # (it was given: no auto-detection)
    ({"interactive": True}, True, False, (False, True)),
    ({"tty": True}, True, False, (True, True)),            # -t forces one
    ({"tty": True, "interactive": False}, False, False, (True, False)),
])
def test_compose_rule(flags, stdin_tty, stdout_tty, expected):
    assert mode(stdin_tty=stdin_tty, stdout_tty=stdout_tty, **flags) == expected


@pytest.mark.parametrize("flags, stdin_tty, message", [
    ({"tty": True, "no_tty": True}, True, "--tty and --no-TTY cannot be used together"),
    ({"tty": True}, False, "the input device is not a TTY"),
    ({"interactive": True}, False, "the input device is not a TTY"),  # -i given, output on a terminal
])
def test_refusals(flags, stdin_tty, message):
    with pytest.raises(UserError, match=message):
        mode(stdin_tty=stdin_tty, **flags)


def test_stdin_open_reaches_the_container_spec():
    args = cs.spec_arguments({"stdin_open": True, "tty": True}, where="services.web", container_name="p-web-1",
                             service="web", project_networks={}, network_name=lambda key, cfg: key)
    assert (args["stdin_open"], args["tty"]) == (True, True)
    from stackup.stackfile.support import unsupported_service

    assert unsupported_service("web", {"image": "x", "stdin_open": True}) == []


@pytest.mark.parametrize("flags, message", [
    (["-t", "-T"], "--tty and --no-TTY cannot be used together"),
    (["-t"], "the input device is not a TTY"),
])
def test_refused_from_the_cli_before_anything_is_made(tmp_path, flags, message):
    env = dict(os.environ, STACKUP_ROOT=str(tmp_path / "root"))
    env.pop("COMPOSE_PROJECT_NAME", None)
    proc = subprocess.run([sys.executable, "-m", "stackup", "-f", str(SAMPLE), "run", *flags, "web", "true"],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr
    containers = tmp_path / "root" / "containers"
    assert not containers.exists() or not any(containers.iterdir())
