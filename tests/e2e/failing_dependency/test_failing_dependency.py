"""A dependency that turns unhealthy, or exits non-zero, stops `up` with a message
naming it and its last log lines; dependents are not created; `down` cleans up."""

import pytest

pytestmark = pytest.mark.root


def test_unhealthy_dependency_stops_up(stack):
    up = stack("up", "-d", "app", check=False)
    assert up.returncode != 0
    assert "e2e-failing-db-1" in up.stderr and "unhealthy" in up.stderr, up.stderr
    assert "db-starting-up" in up.stderr, up.stderr     # its last log lines
    names = {row["Name"] for row in stack.ps("-a")}
    assert "e2e-failing-app-1" not in names
    assert "e2e-failing-db-1" in names                  # what it started stays, consistent
    db_id = {row["Name"]: row["ID"] for row in stack.ps("-a")}["e2e-failing-db-1"]
    stack("exec", "-T", "db", "touch", "/tmp/ok")       # the dependency gets better...
    stack("up", "-d", "app")                            # ...and the next up carries on
    rows = {row["Name"]: row for row in stack.ps()}
    assert rows["e2e-failing-db-1"]["ID"] == db_id      # not recreated
    assert rows["e2e-failing-app-1"]["State"] == "running"
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_failed_completion_stops_up(stack):
    up = stack("--profile", "migrate", "up", "-d", "api", check=False)
    assert up.returncode != 0
    assert "e2e-failing-migrate-1 exited with code 4" in up.stderr, up.stderr
    assert "migration-broke" in up.stderr
    assert "e2e-failing-api-1" not in {row["Name"] for row in stack.ps("-a")}
    stack("--profile", "migrate", "down", "-v")
    assert stack.wait_gone() == []
