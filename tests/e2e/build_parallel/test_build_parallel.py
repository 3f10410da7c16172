"""`up --build` builds the services of one dependency level at the same time: each
build's RUN step waits (bounded) for a mark the other build's RUN leaves in a shared
cache mount, so the two complete only when they run side by side."""

import pytest

pytestmark = pytest.mark.root


def test_two_services_build_in_parallel(stack):
    stack("up", "--build", "-d")
    assert stack("run", "--rm", "--no-deps", "left").stdout == "left saw right\n"
    assert stack("run", "--rm", "--no-deps", "right").stdout == "right saw left\n"
    stack("down", "-v")
    assert stack.wait_gone() == []
