"""The fault-injection tier (marker `faults`): commands of a 5-service stack killed at
random moments. STACKUP_FAULT_SEED replays a run (the seed is printed in every failure;
`random` draws one); STACKUP_FAULT_TRIALS sets the kills per command (default 1;
bench/faults_soak.py runs many more)."""

import os
import random
from pathlib import Path

import pytest

from stackup.testing.faults import TESTS_STACK, FaultTrials
from stackup.testing.stack import StackupCLI, free_port
from stackup.testing.stack import busybox_cache  # noqa: F401 - a fixture, found by name

# A fixed seed by default, so that every CI run tries the same kills (where they land still
# follows the commands' measured durations); STACKUP_FAULT_SEED=random draws a fresh one,
# as bench/faults_soak.py does for long runs.
DEFAULT_SEED = 3456076399
_asked = os.environ.get("STACKUP_FAULT_SEED") or str(DEFAULT_SEED)
SEED = random.SystemRandom().randrange(1 << 32) if _asked == "random" else int(_asked)
TRIALS = int(os.environ.get("STACKUP_FAULT_TRIALS") or 1)


def pytest_report_header(config):
    return f"fault injection: STACKUP_FAULT_SEED={SEED} STACKUP_FAULT_TRIALS={TRIALS}"


@pytest.fixture(scope="module")
def faults_cli(tmp_path_factory, busybox_cache):  # noqa: F811 - the fixture imported above
    """A CLI on this folder's stack with a root of its own (shared by the module's trials)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    cli = StackupCLI(tmp_path_factory.mktemp("faults") / "root", Path(__file__).parent,
                     env={"PORT": str(free_port())})
    cli.import_busybox(busybox_cache)
    yield cli
    cli.cleanup()


@pytest.fixture(scope="module")
def trials(faults_cli):
    """The trials, with every command's duration measured once."""
    runner = FaultTrials(faults_cli, TESTS_STACK, SEED)
    runner.measure()
    runner.take_down()
    return runner


@pytest.fixture
def checks(faults_cli):
    """The stack's commands and checks, for a test that interrupts a command at a
    chosen step (no kill at random, no measuring); `down -v` and the leak check after."""
    runner = FaultTrials(faults_cli, TESTS_STACK, SEED)
    yield runner
    runner.take_down()
