"""Helpers are supervised: after SIGKILL of the network's DNS server, of the port's
proxy or of a container's shim, `ps` shows the stack degraded (never Exited while the
processes run), `up -d` brings it back (names resolve, the port answers, one container
per service), and `down -v` leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from stackup.testing.stack import http_get

pytestmark = pytest.mark.root


def page(stack) -> str:
    return http_get(f"http://127.0.0.1:{stack.env['PORT']}/")


def port_is_dead(stack, timeout: float = 10) -> bool:
    """The port stops answering (once the killed proxy's last thread let go of it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{stack.env['PORT']}/", timeout=3):
                pass
        except OSError:
            return True
        time.sleep(0.05)
    return False


def resolves_web(stack) -> bool:
    return stack("exec", "client", "nslookup", "web", check=False).returncode == 0


def record(stack, kind: str) -> dict:
    """The one state file of `kind` (networks, ports) of this root."""
    (path,) = (stack.root / kind).glob("*.json")
    return json.loads(path.read_text())


def container(stack, name: str) -> dict:
    for path in (stack.root / "containers").glob("*/state.json"):
        state = json.loads(path.read_text())
        if state["name"] == name:
            return state
    raise AssertionError(f"no container {name}")


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]:
        assert time.monotonic() < deadline, f"{pid} survived SIGKILL"
        time.sleep(0.02)


def statuses(stack) -> dict[str, str]:
    return {row["Service"]: row["Status"] for row in stack.ps()}


def test_killed_dns_server_and_port_proxy_are_restarted_by_up(stack):
    stack("up", "-d")
    assert "hello-from-web" in page(stack) and resolves_web(stack)

    kill(record(stack, "networks")["dns_pid"])
    kill(record(stack, "ports")["pid"])
    assert not resolves_web(stack) and port_is_dead(stack)
    shown = statuses(stack)
    assert "degraded" in shown["web"] and "port proxy down" in shown["web"], shown
    assert "DNS server down" in shown["client"], shown

    result = stack("up", "-d")
    assert "DNS server was restarted" in result.stderr and "port proxy was restarted" in result.stderr
    assert "hello-from-web" in page(stack) and resolves_web(stack)
    assert not any("degraded" in s for s in statuses(stack).values())
    assert "repaired" not in stack("up", "-d").stderr   # what serves is left alone

    stack("down", "-v")
    assert stack.wait_gone() == []


def test_dns_server_restarts_after_a_kill_that_left_the_bridge_without_its_address(stack):
    stack("up", "-d")
    net = record(stack, "networks")
    kill(net["dns_pid"])
    gateway, prefix = net["ipam"]["gateway"], net["ipam"]["subnet"].split("/")[1]
    subprocess.run(["ip", "route", "add", net["ipam"]["subnet"], "dev", net["bridge"], "metric", "4242"],
                   check=True)  # so that no other root takes the subnet while it has no address
    subprocess.run(["ip", "addr", "del", f"{gateway}/{prefix}", "dev", net["bridge"]], check=True)

    stack("up", "-d")
    assert resolves_web(stack)
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_a_killed_shim_is_not_shown_exited_and_up_restarts_its_container(stack):
    stack("up", "-d")
    before = container(stack, "e2e-helpers-web-1")
    kill(before["shim_pid"])

    rows = {row["Service"]: row for row in stack.ps()}
    assert rows["web"]["State"] == "running" and "degraded: shim gone" in rows["web"]["Status"]
    assert "hello-from-web" in page(stack)   # ps stopped nothing: the proxy still serves
    assert Path(f"/proc/{before['pid']}").exists()

    result = stack("up", "-d")
    assert "shim had died" in result.stderr
    after = container(stack, "e2e-helpers-web-1")
    assert after["id"] == before["id"] and after["pid"] != before["pid"]
    assert [row["Service"] for row in stack.ps()].count("web") == 1
    assert "hello-from-web" in page(stack)
    assert not any("degraded" in s for s in statuses(stack).values())

    stack("down", "-v")
    assert stack.wait_gone() == []
