"""The round trip: `stackup kube generate`, then `stackup kube play` of its manifests,
gives services that answer as `stackup up` of the stack did; `kube down -v` leaves
nothing behind."""

from __future__ import annotations

import socket

import pytest

from stackup.testing.stack import http_get

pytestmark = pytest.mark.root


def free_node_port() -> int:
    """A port in Kubernetes' NodePort range that nothing here listens on."""
    for port in range(31080, 32768):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 31080-32767")


def test_generate_then_play(stack, tmp_path):
    port = str(free_node_port())
    env = {"PORT": port}
    stack("up", "-d", "--wait", env=env)
    by_up = http_get(f"http://127.0.0.1:{port}/cgi-bin/proxy", timeout=60)
    assert by_up.startswith("backend ")
    stack("down", "-v", env=env)
    manifest = tmp_path / "sample.yaml"
    generated = stack("kube", "generate", "--service-type", "NodePort", env=env)
    manifest.write_text(generated.stdout)
    played = stack("kube", "play", str(manifest))
    assert "init containers left out" in played.stderr
    by_play = http_get(f"http://127.0.0.1:{port}/cgi-bin/proxy", timeout=60)
    assert by_play.startswith("backend ")  # web answers on the NodePort and reaches backend by name
    assert stack("-p", "sample", "exec", "-T", "backend", "wget", "-qO-", "http://localhost:9000/").stdout == by_play
    volumes = stack("volume", "ls", "-q").stdout.split()
    assert "sample_data" in volumes
    stack("kube", "down", "-v", str(manifest))
    assert stack.wait_gone() == []
