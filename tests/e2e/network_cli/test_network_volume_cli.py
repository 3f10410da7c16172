"""`stackup network ...` and `stackup volume ...` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network commands need root", allow_module_level=True)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    root = tmp_path / "root"
    monkeypatch.setenv("STACKUP_ROOT", str(root))
    env = {**os.environ, "STACKUP_ROOT": str(root)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "stackup", *args], capture_output=True,
                              text=True, env=env, timeout=60)

    yield run
    names = run("network", "ls", "-q").stdout.split()
    if names:
        run("network", "rm", "-f", *names)
    from stackup.engine.runtime.container import Runtime

    rt = Runtime(root)
    for state in rt.list():
        rt.remove(state.id, force=True)


def one_error_line(result: subprocess.CompletedProcess, text: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], lines


def test_network_lifecycle(cli):
    created = cli("network", "create", "web", "--label", "team=a", "--subnet", "10.214.3.0/24",
                  "--gateway", "10.214.3.254", "-o", "com.docker.network.driver.mtu=1400")
    assert created.returncode == 0, created.stderr
    assert cli("network", "create", "back", "--internal").returncode == 0
    ls = cli("network", "ls")
    assert "web" in ls.stdout and "10.214.3.0/24" in ls.stdout and "back" in ls.stdout
    assert cli("network", "ls", "-q", "--filter", "label=team=a").stdout.split() == ["web"]
    info = json.loads(cli("network", "inspect", "web").stdout)[0]
    assert info["IPAM"]["Config"] == [{"Subnet": "10.214.3.0/24", "Gateway": "10.214.3.254"}]
    assert info["Labels"] == {"team": "a"} and info["Bridge"].startswith("stk-")
    assert info["Id"] == created.stdout.strip()
    one_error_line(cli("network", "create", "web"), "network web already exists")
    one_error_line(cli("network", "create", "bad", "--subnet", "10.214.3.0/25"), "overlaps")
    one_error_line(cli("network", "create", "x", "--subnet", "nope"), "ipam.config.subnet")
    one_error_line(cli("network", "create", "x", "-d", "overlay"), "driver 'overlay' is not supported")
    one_error_line(cli("network", "inspect", "missing"), "network missing not found")
    pruned = cli("network", "prune", "-f", "--filter", "label=team=a")
    assert pruned.stdout.split() == ["Deleted", "Networks:", "web"]
    assert cli("network", "rm", "back").stdout.split() == ["back"]
    assert cli("network", "ls", "-q").stdout == ""
    one_error_line(cli("network", "rm", "back"), "network back not found")


def test_volume_lifecycle(cli, tmp_path):
    from stackup.testing.rootfs import make_busybox_rootfs

    image = "dir:" + str(make_busybox_rootfs(tmp_path / "rootfs"))
    assert cli("volume", "create", "data", "--label", "k=v").stdout.strip() == "data"
    anon = cli("volume", "create").stdout.strip()
    assert len(anon) == 64
    assert set(cli("volume", "ls", "-q").stdout.split()) == {"data", anon}
    info = json.loads(cli("volume", "inspect", "data").stdout)[0]
    assert info["Labels"] == {"k": "v"} and info["Mountpoint"].endswith("/volumes/data/_data")

    user = cli("container", "create", "-v", "data:/d", image, "true")  # a container uses it
    assert user.returncode == 0, user.stderr
    one_error_line(cli("volume", "rm", "data"), "volume data is in use")
    assert cli("volume", "prune", "-f").stdout.split() == ["Deleted", "Volumes:", anon]
    assert cli("volume", "rm", "-f", "data").returncode == 0
    assert cli("volume", "ls", "-q").stdout == ""
    one_error_line(cli("volume", "rm", "data"), "volume data not found")
    one_error_line(cli("volume", "create", "-d", "nfs", "x1"), "driver 'nfs' is not supported")
