"""SIGKILL of `pull` at a random moment (the stack's image in a local registry, absent
from the store): the next `up -d` pulls what is missing and converges, `down -v` leaves
nothing, and nothing half written stays in the image store."""

import os
from pathlib import Path

import pytest

from stackup.testing.faults import TESTS_STACK, FaultTrials
from stackup.testing.registry import REGISTRY_BIN, LocalRegistry
from stackup.testing.stack import BUSYBOX_REF, StackupCLI, free_port

from .conftest import SEED, TRIALS

pytestmark = [pytest.mark.root, pytest.mark.faults,
              pytest.mark.skipif(not REGISTRY_BIN.exists(), reason="docker-registry missing")]


@pytest.fixture(scope="module")
def pull_trials(tmp_path_factory, busybox_cache):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    folder = tmp_path_factory.mktemp("faults-pull")
    with LocalRegistry(folder / "registry", auth="none") as registry:
        image = f"{registry.host}/faults/busybox:1"
        cli = StackupCLI(folder / "root", Path(__file__).parent, env={"PORT": str(free_port()), "IMAGE": image})
        try:
            cli.import_busybox(busybox_cache)
            cli("image", "tag", BUSYBOX_REF, image)
            cli("image", "push", image)
            trials = FaultTrials(cli, TESTS_STACK, SEED)
            trials.measure_pull()
            yield trials
        finally:
            cli.cleanup()


@pytest.mark.parametrize("index", range(TRIALS))
def test_kill_pull_converges(pull_trials, index):
    pull_trials.reseed("pull", index)
    pull_trials.trial("pull")
