"""`down -v` leaves no container, network, volume, mount, bridge, veth, cgroup or
process of the project; plain `down` keeps the volumes."""

import pytest

pytestmark = pytest.mark.root


def test_down_then_down_volumes(stack):
    stack("up", "-d", "--wait")
    assert len(stack.ps()) == 3
    assert stack.seen["bridges"] and stack.seen["veths"] and stack.seen["containers"]
    stack("down")
    assert stack.wait_gone(keep=("volume ",)) == []
    kept = [item for item in stack.leftovers() if item.startswith("volume ")]
    assert len(kept) == 2, kept                      # the named and the anonymous volume
    stack("up", "-d")
    stack("down", "-v")
    assert stack.wait_gone() == []
    assert stack("ps", "-a").stdout.splitlines()[1:] == []
