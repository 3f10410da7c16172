"""A second `up` with nothing changed touches nothing; a changed service is
recreated (and only it)."""

import pytest

pytestmark = pytest.mark.root


def ids(stack):
    return {row["Service"]: row["ID"] for row in stack.ps()}


def test_noop_then_recreate_on_change(stack):
    stack("up", "-d")
    first = ids(stack)
    again = stack("up", "-d")
    assert again.stderr.strip() == "", again.stderr       # nothing to do, nothing shown
    assert ids(stack) == first
    plan = stack("up", "--dry-run", env={"GREETING": "bonjour"}).stdout
    assert "config changed" in plan and "e2e-recreate-talker-1" in plan
    assert "quiet" not in plan
    stack("up", "-d", env={"GREETING": "bonjour"})
    second = ids(stack)
    assert second["quiet"] == first["quiet"]
    assert second["talker"] != first["talker"]
    assert [row["Name"] for row in stack.ps("-a")] == ["e2e-recreate-quiet-1", "e2e-recreate-talker-1"]
    assert "bonjour" in stack("logs", "talker").stdout
    forced = stack("up", "-d", "--force-recreate", "quiet", env={"GREETING": "bonjour"})
    assert "e2e-recreate-talker-1" not in forced.stderr
    assert ids(stack)["quiet"] != first["quiet"]
    stack("down", "-v")
    assert stack.wait_gone() == []
