"""SIGKILL of the CLI's process group at a random moment of `up -d`, `down`, `down -v`,
a recreating `up -d` and `run --rm`; then `up -d` must converge (one running container
per service, the port answering through a name lookup, the volume's data intact) and
`down -v` must leave nothing. Also two commands at once."""

import subprocess

import pytest

from stackup.testing.faults import COMMANDS
from stackup.testing.stack import stackup_command

from .conftest import TRIALS

pytestmark = [pytest.mark.root, pytest.mark.faults]


@pytest.mark.parametrize("index", range(TRIALS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_kill_converges(trials, command, index):
    trials.reseed(command, index)
    trials.trial(command)


def _both(trials, first, second):
    """Start two commands at once; their results (each may win the project's lock)."""
    procs = [subprocess.Popen(stackup_command() + ["--progress", "plain", *args], cwd=trials.cli.workdir,
                              env=trials.cli.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in (first, second)]
    outputs = [p.communicate(timeout=120) for p in procs]
    results = [(p.returncode, *output) for p, output in zip(procs, outputs)]
    trials.cli.remember()
    return results


def test_two_ups_at_once(trials):
    results = _both(trials, ("up", "-d"), ("up", "-d"))
    assert [code for code, *_ in results] == [0, 0], results
    trials.check_converged(data=False)
    trials.take_down()


def test_up_and_down_at_once(trials):
    results = _both(trials, ("up", "-d"), ("down", "-v"))
    assert [code for code, *_ in results] == [0, 0], results
    trials.run("up", "-d")
    trials.check_converged(data=False)
    trials.take_down()
