"""The web service answers on its published port and reaches its backend by name."""

import pytest

from stackup.testing.stack import http_get

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
    direct = stack("exec", "-T", "web", "wget", "-qO-", "http://backend:9000/")
    assert direct.stdout.startswith("backend ")
    failing = stack("exec", "-T", "web", "sh", "-c", "exit 4", check=False)
    assert failing.returncode == 4
    missing = stack("exec", "--index", "2", "web", "true", check=False)
    assert missing.returncode == 2 and "no container with index 2" in missing.stderr
    assert stack("port", "web", "8080").stdout.strip() == f"127.0.0.1:{port}"
    stats = stack("stats", "--no-stream").stdout
    assert "e2e-web-web-1" in stats and "e2e-web-backend-1" in stats
    assert "e2e-web" in stack("ls").stdout
    stack("down", "-v")
    assert stack.wait_gone() == []
