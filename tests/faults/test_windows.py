"""Each window a kill found, reproduced at its step: the command is cut short exactly
there (or the step's state is made directly), then `up -d` must converge and `down -v`
leave nothing."""

import pytest

pytestmark = [pytest.mark.root, pytest.mark.faults]


def test_recreate_after_an_exit_whose_network_was_kept(checks):
    """A container that exited (killed, or a `stop` cut short between the exit and the
    network's teardown) kept its endpoint and its port's proxy: the recreate's new
    container found the port in use."""
    checks.run("up", "-d")
    checks.run("kill", "web")
    checks.generation += 1
    checks.run("up", "-d")
    checks.check_converged(data=False)
