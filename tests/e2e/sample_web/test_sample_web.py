"""samples/web, run as the README's demo runs it: its page holds the backend's answer,
fetched by service name. Also on a host where a stock dockerd runs (br_netfilter loaded,
iptables' FORWARD policy DROP), where two containers of one network once could not
reach each other at all."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from stackup.testing import peers
from stackup.testing.stack import StackupCLI, busybox_cache, http_get  # noqa: F401

pytestmark = pytest.mark.root

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "web"


@contextlib.contextmanager
def host_docker(tmp_path: Path, running: bool):
    if not running:
        yield
        return
    try:
        with peers.dockerd(tmp_path / "docker", firewall=True):
            yield
    except peers.PeerUnavailable as exc:
        pytest.skip(f"dockerd: {exc}")


@pytest.mark.parametrize("dockerd", [False, True], ids=["alone", "beside-dockerd"])
def test_the_sample_answers_with_the_backends_page(tmp_path, busybox_cache, dockerd):  # noqa: F811
    with host_docker(tmp_path, dockerd):
        cli = StackupCLI(tmp_path / "root", SAMPLE)
        cli.import_busybox(busybox_cache)
        try:
            cli("up", "-d", "--wait")
            cli.remember()
            page = http_get("http://127.0.0.1:18080/cgi-bin/backend", timeout=20)
            assert "web: asked http://backend:9000/ and got:" in page
            assert "hello from the backend (" in page, page
            cli("down", "-v")
            assert cli.wait_gone() == []
        finally:
            cli.cleanup()
