"""Scaling up adds numbered containers; scaling down removes the highest."""

import pytest

from stackup.testing.stack import busybox_cache, stack  # noqa: F401

pytestmark = pytest.mark.root


def names(stack):
    return sorted(row["Name"] for row in stack.ps("-a"))


def test_scale_up_and_down(stack):
    stack("up", "-d")
    assert names(stack) == ["e2e-scale-worker-1", "e2e-scale-worker-2"]
    first = {row["Name"]: row["ID"] for row in stack.ps()}
    stack("up", "-d", "--scale", "worker=4")
    assert names(stack) == [f"e2e-scale-worker-{n}" for n in (1, 2, 3, 4)]
    stack("up", "-d", "--scale", "worker=1")
    assert names(stack) == ["e2e-scale-worker-1"]
    assert stack.ps()[0]["ID"] == first["e2e-scale-worker-1"]   # the kept one was not touched
    stack("down", "-v")
    assert stack.wait_gone() == []
