"""`stackup container run --network`: joining a user network, and a missing one refused."""

import os
import subprocess
import sys

import pytest

from stackup.testing.containers import assert_no_trace
from stackup.testing.rootfs import make_busybox_rootfs

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return "dir:" + str(make_busybox_rootfs(tmp_path_factory.mktemp("img") / "rootfs"))


@pytest.fixture
def cli(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = tmp_path / "root"
    env = dict(os.environ, STACKUP_ROOT=str(root))
    monkeypatch.setenv("STACKUP_ROOT", str(root))
    made = []

    def run(*args, check=0, group="container"):
        proc = subprocess.run([sys.executable, "-m", "stackup", group, *args], env=env,
                              capture_output=True, text=True, timeout=120)
        if check is not None:
            assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
        if group == "network" and args[0] == "create":
            made.append(args[-1])
        return proc

    run.root = root
    yield run
    from stackup.engine.runtime.container import Runtime

    rt = Runtime(root)
    for state in rt.list():
        rt.remove(state["id"], force=True)
        assert_no_trace(rt, state["id"])
    for name in made:
        run("rm", name, group="network", check=None)


def test_containers_on_a_network_reach_each_other_by_name(cli, image):
    net = f"rt{os.getpid() % 100000}"
    cli("create", net, group="network")
    web = cli("run", "-d", "--name", f"web-{net}", "--network", net, image,
              "httpd", "-f", "-p", "80", "-h", "/etc").stdout.strip()
    p = cli("run", "--rm", "--network", net, image, "wget", "-qO-", f"http://web-{net}/hostname")
    assert p.stdout.strip() == web[:12]


def test_a_missing_network_is_refused_and_nothing_is_left(cli, image):
    p = cli("run", "--rm", "--network", "no-such-net", image, "true", check=2)
    assert p.stderr.strip() == "stackup: network no-such-net not found"
    assert cli("ps", "-a", "-q").stdout == ""
