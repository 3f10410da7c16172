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

# What another part of issue 19 repairs: such a failure is expected until it lands.
OTHER_PARTS = {
    "cannot serve DNS": "supervise: a killed network's DNS server leaves its address behind",
}


def _xfail_if_other_part(error: AssertionError) -> None:
    for marker, part in OTHER_PARTS.items():
        if marker in str(error):
            pytest.xfail(f"{part} ({str(error).splitlines()[0]})")


@pytest.mark.parametrize("index", range(TRIALS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_kill_converges(trials, command, index):
    trials.reseed(command, index)
    try:
        trials.trial(command)
    except AssertionError as error:
        _xfail_if_other_part(error)
        raise


def _both(trials, first, second):
    """Start two commands at once; their results (each may win the project's lock)."""
    procs = [subprocess.Popen(stackup_command() + ["--progress", "plain", *args], cwd=trials.cli.workdir, env=trials.cli.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for args in (first, second)]
    results = [(p.wait(120), *p.communicate()) for p in procs]
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
