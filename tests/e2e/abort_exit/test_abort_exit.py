"""Attached `up --abort-on-container-exit --exit-code-from job`: prefixed output,
everything stopped when `job` exits, and its exit code is stackup's."""

import pytest

pytestmark = pytest.mark.root


def test_abort_on_exit_with_exit_code(stack):
    up = stack("up", "--abort-on-container-exit", "--exit-code-from", "job", "--no-color", check=False)
    assert up.returncode == 3, up.stderr
    lines = up.stdout.splitlines()
    assert any(line.startswith("e2e-abort-job-1") and line.endswith("| job done") for line in lines), up.stdout
    assert any(line.startswith("e2e-abort-server-1") and line.endswith("| serving") for line in lines)
    assert {row["State"] for row in stack.ps("-a")} == {"exited"}
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_ctrl_c_stops_the_stack_gracefully(stack):
    import signal

    proc = stack.popen("up", "--no-color", "server")
    for line in proc.stdout:          # wait until the service is up and talking
        if line.endswith("| serving\n"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Gracefully stopping" in err
    assert [row["State"] for row in stack.ps("-a")] == ["exited"]
    stack("down", "-v")
    assert stack.wait_gone() == []
