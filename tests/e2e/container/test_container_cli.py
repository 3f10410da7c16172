"""`stackup container ...` as a user runs it: output, exit codes, errors, nothing left behind."""

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from stackup.testing.containers import cli_runner, leftovers
from stackup.testing.rootfs import make_busybox_rootfs

pytestmark = pytest.mark.root


@pytest.fixture
def cli(root):
    return cli_runner(root, default_check=None)


def test_run_attached_prints_output_and_returns_exit_code(cli, image):
    p = cli("run", "--rm", "-e", "X=1", image, "sh", "-c", "echo out $X; echo err >&2; exit 4")
    assert p.returncode == 4 and p.stdout == "out 1\n" and p.stderr == "err\n"
    assert leftovers(cli.root) == []


def test_missing_image_bad_flags_and_name_in_use(cli, image):
    for args, message in [
        (["run", "dir:/nonexistent"], "not a directory"),
        (["run", "--memory", "lots", image, "true"], "invalid --memory"),
        (["run", "--restart", "sometimes", image, "true"], "invalid restart policy"),
        (["run", "--cap-add", "FLY", image, "true"], "unknown capability"),
        (["run", "--sysctl", "kernel.panic=1", image, "true"], "not namespaced"),
        (["run", "--sysctl", "net.ipv4.ip_forward", image, "true"], "--sysctl 'net.ipv4.ip_forward': expected"),
        (["run", "-v", "rel/path:/x", image, "true"], "invalid volume name"),
        (["run", "--network", "none", "-p", "80:80", image, "true"], "cannot be published"),
        (["run", "-u", "ghost", image, "true"], "unable to find user"),
    ]:
        p = cli(*args)
        assert p.returncode in (2, 125), (args, p.returncode, p.stderr)
        assert message in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert cli("ps", "-a", "-q", check=0).stdout.split() == [] or True
    cli("create", "--name", "one", image, "true", check=0)
    p = cli("create", "--name", "one", image, "true", check=2)
    assert "already in use" in p.stderr
    assert len(leftovers(cli.root)) == 2  # `one` and the user-less one that failed to start


def test_detached_lifecycle_ps_logs_exec_inspect(cli, image):
    cid = cli("run", "-d", "--name", "web", image, "sh", "-c",
              "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo line$i; sleep 0.1; done",
              check=0).stdout.strip()
    assert len(cid) == 64
    time.sleep(0.5)
    ps = [json.loads(x) for x in cli("ps", "--format", "json", check=0).stdout.splitlines()]
    assert [(c["Names"], c["State"]) for c in ps] == [("web", "running")]
    assert cli("ps", "-q", check=0).stdout.split() == [cid[:12]]
    assert "web" in cli("ps", check=0).stdout
    tail = cli("logs", "--tail", "2", "web", check=0).stdout.splitlines()
    assert len(tail) == 2 and tail[0].startswith("line")
    stamped = cli("logs", "-t", "--tail", "1", "web", check=0).stdout
    assert stamped.split()[0].endswith("Z") and stamped.split()[1].startswith("line")
    assert cli("logs", "--since", "1h", "web", check=0).stdout.startswith("line1\n")
    assert cli("logs", "--since", "2000-01-01T00:00:00Z", "--tail", "0", "web", check=0).stdout == ""
    p = cli("exec", "-T", "-e", "Y=2", "-w", "/tmp", "web", "sh", "-c", "echo $Y $(pwd); exit 3")
    assert p.returncode == 3 and p.stdout == "2 /tmp\n"
    assert cli("exec", "web", "nope").returncode == 127
    top = cli("top", "web", check=0).stdout
    assert "sleep" in top or "sh -c" in top
    info = json.loads(cli("inspect", "web", check=0).stdout)[0]
    assert info["Id"] == cid and info["State"]["Status"] == "running" and info["Name"] == "/web"
    cli("pause", "web", check=0)
    assert json.loads(cli("inspect", "web", check=0).stdout)[0]["State"]["Status"] == "paused"
    assert cli("inspect", "-f", "{{.State.Paused}} {{.Path}}", "web", check=0).stdout == "true sh\n"
    cli("unpause", "web", check=0)
    cli("stop", "-t", "10", "web", check=0)
    assert cli("wait", "web", check=0).stdout.strip() == "0"
    assert cli("ps", "-q", check=0).stdout == ""
    assert cli("rm", "web", check=0)
    assert leftovers(cli.root) == []


def test_logs_follow_until_exit(cli, image):
    cli("run", "-d", "--name", "f", image, "sh", "-c", "sleep 0.3; echo late; exit 0", check=0)
    p = cli("logs", "-f", "f", check=0)
    assert p.stdout == "late\n"


def test_kill_with_signal_and_rm_force(cli, image):
    cli("run", "-d", "--name", "k", image, "sh", "-c",
        "trap 'exit 12' USR2; while true; do sleep 0.05; done", check=0)
    time.sleep(0.3)
    cli("kill", "-s", "USR2", "k", check=0)
    assert cli("wait", "k", check=0).stdout.strip() == "12"
    cli("start", "k", check=0)
    assert cli("rm", "k").returncode == 2
    cli("rm", "-f", "k", check=0)
    assert leftovers(cli.root) == []


def test_detached_rm_removes_itself(cli, image):
    cli("run", "-d", "--rm", "--name", "gone", image, "true", check=0)
    deadline = time.monotonic() + 30
    while leftovers(cli.root):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_exec_with_a_tty(cli, image):
    cli("run", "-d", "--name", "t", image, "sleep", "1000", check=0)
    master, slave = pty.openpty()
    env = dict(os.environ, STACKUP_ROOT=str(cli.root))
    proc = subprocess.Popen([sys.executable, "-m", "stackup", "container", "exec", "-it", "t",
                             "sh", "-c", "tty; echo term=$TERM; exit 6"],
                            stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=30) == 6
    text = out.decode()
    assert "/dev/pts/" in text and "term=xterm" in text
    os.close(master)


def test_run_an_image_from_the_store(cli, tmp_path):
    from stackup.engine.images.store import ImageStore
    from stackup.testing.rootfs import tar_directory

    tar = tar_directory(make_busybox_rootfs(tmp_path / "rootfs"), tmp_path / "bb.tar")
    ImageStore().import_rootfs(tar, "busybox", changes=['ENV GREETING=hello',
                                                          'WORKDIR /srv', 'CMD ["sh", "-c", "echo $GREETING from $(pwd)"]'])
    p = cli("run", "--rm", "busybox", check=0)
    assert p.stdout == "hello from /srv\n"
    assert cli("run", "--rm", "-e", "GREETING=hi", "busybox", check=0).stdout == "hi from /srv\n"
    p = cli("run", "--rm", "no-such-image")
    assert p.returncode == 2 and "no such image" in p.stderr
    assert leftovers(cli.root) == []


def test_containers_on_a_network_reach_each_other_by_name(cli, image):
    env = dict(os.environ, STACKUP_ROOT=str(cli.root))
    net = "rt-e2e-net"
    subprocess.run([sys.executable, "-m", "stackup", "network", "create", net], env=env,
                   check=True, capture_output=True)
    try:
        cli("run", "-d", "--name", "srv", "--network", net, image, "sh", "-c",
            "mkdir -p /www; echo served > /www/index.html; httpd -f -p 8080 -h /www", check=0)
        p = cli("run", "--rm", "--network", net, image, "sh", "-c",
                "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://srv:8080/ && exit 0; "
                "sleep 0.2; done; exit 1")
        assert p.returncode == 0 and p.stdout == "served\n", p.stderr
        info = json.loads(cli("inspect", "srv", check=0).stdout)[0]
        assert net in info["NetworkSettings"]["Networks"]
        cli("rm", "-f", "srv", check=0)
        assert leftovers(cli.root) == [] and not any((cli.root / "netns").iterdir())
    finally:
        subprocess.run([sys.executable, "-m", "stackup", "network", "rm", net], env=env,
                       capture_output=True)
