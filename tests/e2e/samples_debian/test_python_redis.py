"""samples/python-redis, as its README tells a user to run it: every image built FROM
Debian, the web app up once Redis is healthy, visits counted, the worker taking the
jobs, and `stackup watch` bringing an edit of the code live without a restart."""

import shutil
import signal
import time
from pathlib import Path

import pytest

from stackup.testing.stack import free_port, http_get

pytestmark = [pytest.mark.root, pytest.mark.slow]
SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "python-redis"


def fetch(url: str, expected: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        body = http_get(url, timeout=timeout)
        if expected in body or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_python_redis_sample(stackup_stack, tmp_path):
    project = tmp_path / "python-redis"
    shutil.copytree(SAMPLE, project)
    stack = stackup_stack(project, env={"WEB_PORT": str(free_port())}, wait=True)
    health = {c["Service"]: c["Health"] for c in stack.ps()}
    assert health == {"redis": "healthy", "web": "healthy", "worker": ""}

    host, port = stack.port("web", 8000)
    url = f"http://{host}:{port}/"
    assert http_get(url) == "Hello from Python and Redis (visit 1)\n"
    assert http_get(url) == "Hello from Python and Redis (visit 2)\n"
    assert stack.exec("redis", ["redis-cli", "get", "visits"]).stdout == "2\n"
    deadline = time.monotonic() + 30
    while "worker: done visit 2" not in stack.logs("worker"):
        assert time.monotonic() < deadline, stack.logs("worker")
        time.sleep(0.2)

    options = [arg for f in stack.files for arg in ("-f", str(f))]
    watcher = stack.cli.popen(*options, "-p", stack.project, "watch", "--no-up", "web")
    try:
        for line in watcher.stderr:
            if "Watch enabled" in line:
                break
        (project / "app" / "src" / "greeting.py").write_text('TEXT = "Edited live"\n')
        assert fetch(url, "Edited live").startswith("Edited live (visit ")
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    assert watcher.returncode == 0
    assert [c["State"] for c in stack.ps()] == ["running"] * 3   # synced, never restarted
