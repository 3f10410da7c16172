"""The web service answers on its published port and reaches its backend by name."""

import pytest

from stackup.testing.stack import busybox_cache, http_get, stack  # noqa: F401

pytestmark = pytest.mark.root


def test_published_port_and_backend_by_name(stack):
    stack("up", "-d")
    port = stack.env["PORT"]
    rows = {row["Service"]: row for row in stack.ps()}
    assert set(rows) == {"web", "backend"}
    assert rows["web"]["State"] == "running"
    assert f"127.0.0.1:{port}->8080/tcp" in rows["web"]["Ports"]
    body = http_get(f"http://127.0.0.1:{port}/cgi-bin/proxy")
    assert body.startswith("backend "), body
    logs = stack("logs", "--no-color").stdout
    assert all(line.split("|")[0].strip() in ("e2e-web-web-1", "e2e-web-backend-1")
               for line in logs.splitlines() if line.strip())
    stack("down", "-v")
    assert stack.wait_gone() == []
