"""The cgroup v2 tier: the tests that exercise cgroups, run again as root inside a VM
whose kernel (Debian's) mounts the unified hierarchy, one outer result per inner test.

This machine is cgroup v1; `stackup.testing.vm` boots a real v2 kernel under QEMU
(software emulation) with the host's / shared read-only, runs the inner pytest once for
the whole session and reads its junit report back. See docs/cgroups.md.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stackup.testing import vm

pytestmark = [pytest.mark.root, pytest.mark.vm, pytest.mark.slow]

CHECKOUT = Path(__file__).resolve().parents[2]
# chosen for what they prove on v2 (the emulated VM runs a test in seconds, not
# milliseconds: the tier stays within a few minutes)
INNER = [
    "tests/integration/runtime/test_cgroups.py",
    "tests/integration/runtime/test_lifecycle.py::test_stop_of_a_paused_container",
    "tests/integration/runtime/test_lifecycle.py::test_pids_limit",
    "tests/integration/runtime/test_lifecycle.py::test_exec_joins_everything",
    "tests/integration/runtime/test_lifecycle.py::test_a_killed_shim_leaves_a_running_container_that_recover_restarts",
    "tests/e2e/cgroup_limits",
]
# pytest's plugins found by entry point cost tens of seconds of start-up in the
# emulated VM; the inner run loads only those these tests use
PYTEST = (f"env PYTHONDONTWRITEBYTECODE=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 STACKUP_IN_VM=1 "
          f"{sys.executable} -m pytest -p stackup.testing.plugin -p pytest_timeout "
          f"-p no:cacheprovider -q -rA --durations=0 --timeout=300")
# qemu is killed after this; pytest's own timeout for the test that boots is above it
TIMEOUT = float(os.environ.get("STACKUP_VM_TIMEOUT", "720"))


def _inner_ids() -> list[str]:
    """The inner tests' ids, collected on the host (which also leaves their compiled,
    assertion-rewritten modules in __pycache__ for the VM to reuse)."""
    if vm.available() or os.environ.get("STACKUP_IN_VM"):
        return []
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *INNER], cwd=CHECKOUT,
                          capture_output=True, text=True, timeout=300)
    return [line for line in proc.stdout.splitlines() if "::" in line and " " not in line]


def pytest_generate_tests(metafunc):
    if "inner" in metafunc.fixturenames:
        ids = _inner_ids()
        metafunc.parametrize("inner", ids or ["-"], ids=ids or ["not-collected"])


@pytest.fixture(scope="session")
def vm_results(tmp_path_factory):
    """nodeid -> (outcome, text), from one boot that runs every inner test."""
    out = tmp_path_factory.mktemp("vm")
    command = f"{PYTEST} --junitxml=/vmout/junit.xml {' '.join(INNER)}"
    run = vm.run(command, out, CHECKOUT, timeout=TIMEOUT)
    print(f"cgroup v2 VM ({run.accel}): {run.seconds:.0f}s, exit {run.exit_code}; "
          + " ".join(line for line in run.console.splitlines() if line.startswith("stackup-vm:")))
    print(run.output[-3000:])
    junit = out / "junit.xml"
    if not junit.exists():
        pytest.fail(f"the VM gave no report (exit {run.exit_code}):\n{run.output[-5000:]}\n"
                    f"--- console:\n{run.console[-5000:]}", pytrace=False)
    return _results(junit), run


def _results(junit: Path) -> dict[str, tuple[str, str]]:
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        *module, cls = case.get("classname", "").split(".")
        # classname is the module's dotted path (plus a class, if any)
        path = "/".join(module + [cls]) + ".py"
        if not (CHECKOUT / path).exists():
            path = "/".join(module) + ".py::" + cls
        nodeid = f"{path}::{case.get('name')}"
        outcome, text = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, text = "failed", (child.get("message") or "") + "\n" + (child.text or "")
            elif child.tag == "skipped":
                outcome, text = "skipped", child.get("message") or ""
        found[nodeid] = (outcome, text)
    return found


@pytest.mark.timeout(TIMEOUT + 120)
def test_in_the_vm(inner, vm_results):
    if inner == "-":
        pytest.skip(vm.available() or "no inner test collected")
    results, run = vm_results
    if inner not in results:
        pytest.fail(f"{inner} did not run in the VM (exit {run.exit_code}):\n"
                    f"{run.output[-5000:]}", pytrace=False)
    outcome, text = results[inner]
    if outcome == "skipped":
        pytest.skip(f"in the VM: {text}")
    if outcome == "failed":
        pytest.fail(f"in the cgroup v2 VM:\n{text}", pytrace=False)
