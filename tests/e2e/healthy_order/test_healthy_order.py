"""depends_on: service_healthy starts the dependent only after the healthcheck passes."""

import pytest

pytestmark = pytest.mark.root


def test_dependent_starts_after_healthy(stack):
    up = stack("up", "-d")
    events = up.stderr.splitlines()
    healthy = events.index(" Container e2e-healthy-db-1  Healthy")
    created = events.index(" Container e2e-healthy-app-1  Creating")
    assert healthy < created, up.stderr
    rows = {row["Service"]: row for row in stack.ps()}
    assert rows["db"]["Health"] == "healthy"
    assert rows["db"]["Status"].startswith("Up ") and rows["db"]["Status"].endswith(" (healthy)")
    logs = stack("logs", "--no-log-prefix", "app").stdout
    assert "APP-SAW-READY" in logs and "APP-TOO-EARLY" not in logs
    stack("down", "-v")
    assert stack.wait_gone() == []
