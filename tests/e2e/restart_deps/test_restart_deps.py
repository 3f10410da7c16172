"""`restart db` also restarts the services that depend on db with `restart: true`;
`exec -d` runs a command in the background. Brought up by the pytest plugin."""

import time

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return stackup_busybox


def _until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.stackup("compose.yaml")
def test_restart_takes_restart_true_dependents_along(stackup):
    assert _until(lambda: "api-started" in stackup.logs("api"))
    stackup("restart", "-t", "0", "db")
    assert _until(lambda: stackup.logs("db").count("db-started") == 2)
    assert _until(lambda: stackup.logs("api").count("api-started") == 2)
    assert stackup.logs("worker").count("worker-started") == 1
    assert {row["Service"]: row["State"] for row in stackup.ps()} == \
        {"db": "running", "api": "running", "worker": "running"}


@pytest.mark.stackup("compose.yaml", services=["db"])
def test_exec_detached(stackup):
    proc = stackup("exec", "-d", "db", "sh", "-c", "echo made > /tmp/made; exec sleep 1000")
    assert proc.returncode == 0 and proc.stdout == ""
    assert _until(lambda: stackup.exec("db", "cat /tmp/made", check=False).stdout == "made\n")
    # the background command keeps running after the CLI returned (the service's own
    # sleep and the exec'd one; PID 1, the init, names the service's command too)
    processes = [line.strip() for line in stackup.exec("db", "ps -o args").stdout.splitlines()]
    assert processes.count("sleep 1000") == 2


@pytest.mark.stackup("compose.yaml", services=["db"])
def test_exec_detached_reports_a_command_that_cannot_start(stackup):
    proc = stackup("exec", "-d", "db", "no-such-command", check=False)
    assert proc.returncode == 127
    assert "no-such-command" in proc.stderr and "not found" in proc.stderr
    assert "Traceback" not in proc.stderr
