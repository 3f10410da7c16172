"""Attached `up --abort-on-container-exit --exit-code-from job`: prefixed output,
everything stopped when `job` exits, and its exit code is stackup's."""

import pytest

from stackup.testing.stack import busybox_cache, stack  # noqa: F401

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
