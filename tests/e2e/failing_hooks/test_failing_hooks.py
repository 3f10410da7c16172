"""A failing hook fails the operation as compose's does: a `post_start` the start
(with the hook's output), a `pre_stop` the stop, which then leaves the container running."""

import pytest

pytestmark = pytest.mark.root


def test_failing_post_start_fails_up(stack):
    up = stack("up", "-d", "broken", check=False)
    assert up.returncode == 1, up.stderr
    assert "broken hook exited with status 3" in up.stderr, up.stderr
    assert "hook says no" in up.stderr + up.stdout
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_failing_pre_stop_keeps_the_container_running(stack):
    stack("up", "-d", "stubborn")
    stack("exec", "stubborn", "touch", "/tmp/refuse")
    try:
        stop = stack("stop", "stubborn", check=False)
        assert stop.returncode == 1 and "stubborn hook exited with status 4" in stop.stderr, stop.stderr
        assert [row["State"] for row in stack.ps("stubborn")] == ["running"]
    finally:
        stack("exec", "stubborn", "rm", "/tmp/refuse")
    stack("stop", "stubborn")
    assert [row["State"] for row in stack.ps("-a", "stubborn")] == ["exited"]
    stack("down", "-v")
    assert stack.wait_gone() == []
