"""The pytest plugin (stackup.testing.plugin, loaded through its pytest11 entry point):
the factory and the marker bring a stack up, and it is always taken down."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stackup.testing.stack import StackupCLI, free_port, http_get

pytestmark = pytest.mark.root
HERE = Path(__file__).parent


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return stackup_busybox


def test_factory_brings_the_stack_up(stackup_stack, stackup_root):
    stack = stackup_stack("compose.yaml", env={"PORT": str(free_port()), "GREETING": "plugin"})
    assert stack.project == "e2e-plugin"
    assert {row["Service"]: row["State"] for row in stack.ps()} == {"web": "running", "backend": "running"}
    host, port = stack.port("web", 8080)
    assert host == "127.0.0.1"
    assert http_get(f"http://{host}:{port}/") == "web-plugin\n"
    assert stack.exec("web", "wget -qO- http://backend:9000/").stdout == "backend\n"
    assert stack.exec("web", ["sh", "-c", "exit 3"], check=False).returncode == 3
    assert "web-ready" in stack.logs("web")
    assert (stackup_root / "volumes" / "e2e-plugin_data").is_dir()


def test_one_service_faults_and_recoveries(stackup_stack):
    stack = stackup_stack("compose.yaml", env={"PORT": str(free_port())}, project="e2e-plugin-faults")
    url = stack.url("web", 8080)
    assert url.startswith("http://127.0.0.1:") and http_get(url) == "web-hello\n"
    states = lambda: {row["Service"]: row["State"] for row in stack.ps("-a")}  # noqa: E731
    stack.stop("backend")
    assert states() == {"web": "running", "backend": "exited"}
    stack.start("backend")
    stack.kill("web")
    assert states() == {"web": "exited", "backend": "running"}
    stack.restart("web")
    stack.pause("backend")
    assert states()["backend"] == "paused"
    stack.unpause("backend")
    stack.wait_healthy()
    assert states() == {"web": "running", "backend": "running"}
    assert http_get(stack.url("web", 8080)) == "web-hello\n"


def test_only_the_named_services(stackup_stack):
    stack = stackup_stack(HERE, services=["backend"], project="e2e-plugin-only")
    assert [row["Service"] for row in stack.ps()] == ["backend"]


@pytest.mark.stackup("compose.yaml", services=["backend"])
def test_marker_form(stackup):
    assert stackup.project == "e2e-plugin"
    assert stackup.exec("backend", "cat /www/index.html").stdout == "backend\n"


def test_a_failing_test_still_takes_its_stack_down(tmp_path, stackup_busybox):
    """An inner pytest session whose test fails after bringing the stack up: the stack
    is down afterwards, nothing of it is left, and the failure is the test's own."""
    root = tmp_path / "root"
    stackup_busybox(StackupCLI(root, HERE))
    inner = tmp_path / "test_inner.py"
    inner.write_text(textwrap.dedent(f"""
        def test_fails(stackup_stack):
            stack = stackup_stack({str(HERE / "compose.yaml")!r})
            assert stack.ps()
            assert False, "the test's own failure"
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(inner),
                           "--stackup-root", str(root)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PORT=str(free_port())))
    assert "1 failed" in proc.stdout and "the test's own failure" in proc.stdout, proc.stdout
    assert "stackup logs: e2e-plugin" in proc.stdout and "web-ready" in proc.stdout, proc.stdout
    assert "error" not in proc.stdout.splitlines()[-1], proc.stdout  # the teardown found no leak
    cli = StackupCLI(root, HERE)
    assert cli.leftovers(project="e2e-plugin") == []
    assert not list(root.glob("containers/*/state.json"))
    assert not (root / "volumes" / "e2e-plugin_data").exists()
    cli.cleanup()


def test_a_stack_left_behind_is_reported(tmp_path, stackup_busybox):
    """When the take-down leaves something (here: it is skipped), the leak check makes
    the test error, naming what was left."""
    root = tmp_path / "root"
    stackup_busybox(StackupCLI(root, HERE))
    inner = tmp_path / "test_inner.py"
    inner.write_text(textwrap.dedent(f"""
        from stackup.testing import plugin

        def test_passes(stackup_stack):
            plugin.Stack.down = lambda self: None  # for good: this session is thrown away
            stackup_stack({str(HERE / "compose.yaml")!r}, services=["backend"])
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(inner),
                           "--stackup-root", str(root)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    cli = StackupCLI(root, HERE)
    try:
        summary = proc.stdout.strip().splitlines()[-1]  # e.g. "1 passed, 2 warnings, 1 error in 3s"
        assert "1 passed" in summary and "1 error" in summary, proc.stdout
        assert "stack e2e-plugin left behind: container" in proc.stdout, proc.stdout
    finally:
        cli.cleanup()
    assert cli.wait_gone() == []
