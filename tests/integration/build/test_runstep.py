"""RUN steps on the real kernel: a busybox image, real containers, real networks."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stackup.engine import network
from stackup.engine.build import runstep
from stackup.engine.build.model import RunMount, RunStep
from stackup.engine.build.runstep import BuildNetwork, run_step
from stackup.engine.images.store import ImageStore
from stackup.engine.runtime import cgroups
from stackup.engine.runtime.container import Runtime
from stackup.testing.containers import processes_mentioning
from stackup.testing.images import busybox_image
from stackup.testing.netns import Netns, caller_echo_server, wait_tcp

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("RUN steps need root", allow_module_level=True)


@pytest.fixture
def root(tmp_path, monkeypatch):
    path = tmp_path / "root"
    monkeypatch.setenv("STACKUP_ROOT", str(path))
    yield path
    for net in network.network_records():
        network.remove_network(net["id"], force=True)


@pytest.fixture
def layers(root) -> list[Path]:
    return busybox_image(ImageStore()).layer_dirs()


@pytest.fixture
def created(monkeypatch):
    """The ids of the step containers made during the test (a spy on the runtime's create),
    each checked gone without a trace at the end."""
    ids: list[str] = []
    real = Runtime.create

    def spy(self, spec, name=None):
        state = real(self, spec, name)
        ids.append(state.id)
        return state

    monkeypatch.setattr(Runtime, "create", spy)
    yield ids
    for cid in ids:
        assert_gone(cid)


def assert_gone(cid: str) -> None:
    d = runstep.steps_root() / "containers" / cid
    assert not d.exists(), "container directory left"
    assert not (runstep.steps_root() / "netns" / cid).exists(), "netns file left"
    assert not cgroups.Cgroup(cid).exists(), "cgroup left"
    with open("/proc/self/mountinfo") as f:
        assert cid not in f.read(), "mount left"
    assert processes_mentioning(cid) == [], "process left"
    for net in network.network_records():
        assert cid not in net.get("endpoints", {}), "network endpoint left"


def step(layers, script: str, **kw) -> RunStep:
    kw.setdefault("network", "none")
    return RunStep(layers=layers, argv=["/bin/sh", "-c", script], env=["PATH=/bin:/usr/bin:/sbin"], **kw)


def entries(upper: Path) -> list[str]:
    return sorted(str(p.relative_to(upper)) for p in upper.rglob("*"))


def test_output_exit_code_and_changes_in_overlay_form(root, layers, created):
    lines: list[str] = []
    script = """echo one; echo two >&2; echo data > /new; rm /bin/ls; rm -rf /var/www
                mkdir /var/www; touch /var/www/fresh; exit 3"""
    result = run_step(step(layers, script), lines.append)
    assert result.exit_code == 3
    assert sorted(lines) == ["one", "two"] and result.tail == lines
    up = result.upper
    assert up.parent == runstep.scratch_root()
    assert (up / "new").read_text() == "data\n"
    whiteout = os.lstat(up / "bin" / "ls")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(up / "var" / "www", "trusted.overlay.opaque") == b"y"
    # only what the command changed: no stubs of /etc/hosts, /proc, /dev...
    assert entries(up) == ["bin", "bin/ls", "new", "var", "var/www", "var/www/fresh"]
    assert len(created) == 1


def test_a_step_that_changes_nothing_leaves_an_empty_upper(root, layers, created, tmp_path):
    # an image without /proc, /sys, /dev, /etc/hosts... and mount targets the image lacks:
    # every mount point the runtime made is taken out again
    bare = tmp_path / "bare"
    shutil.copytree(layers[0], bare, symlinks=True)
    for name in ("proc", "sys", "dev", "run", "etc/hostname"):
        path = bare / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    cache, secret = tmp_path / "cache", tmp_path / "token"
    cache.mkdir()
    secret.write_text("s3cret")
    mounts = [RunMount("bind", "/root/.cache/pip", str(cache)),
              RunMount("bind", "/run/secrets/token", str(secret), read_only=True),
              RunMount("tmpfs", "/tmp/scratch", size=1 << 20),
              RunMount("bind", "rel/target", str(cache))]
    result = run_step(step([bare], "cat /run/secrets/token; test -d /srv/rel/target",
                           mounts=mounts, workdir="/srv"), lambda line: None)
    assert result.exit_code == 0 and result.tail == ["s3cret"]
    # the working directory the image lacked is kept (Docker creates it); nothing else
    assert entries(result.upper) == ["srv"]


def test_mounts_and_what_the_command_wrote_beside_them(root, layers, created, tmp_path):
    cache, ro = tmp_path / "cache", tmp_path / "ro"
    cache.mkdir()
    ro.mkdir()
    mounts = [RunMount("bind", "/opt/cache", str(cache)), RunMount("bind", "/opt/ro", str(ro), read_only=True),
              RunMount("tmpfs", "/opt/tmp")]
    script = """echo kept > /opt/cache/f; touch /opt/ro/f 2>/dev/null && echo writable
                echo gone > /opt/tmp/f; echo mine > /opt/note; echo x > /etc/hosts"""
    result = run_step(step(layers, script, mounts=mounts), lambda line: None)
    assert result.exit_code == 0 and result.tail == []
    assert (cache / "f").read_text() == "kept\n" and not (ro / "f").exists()
    # the mount points went, the file the command wrote beside them stays; a write to
    # /etc/hosts went to the runtime's file, not into the layer (as with BuildKit)
    assert entries(result.upper) == ["opt", "opt/note"]


def test_user_workdir_env_and_a_missing_command(root, layers, created):
    lines: list[str] = []
    result = run_step(RunStep(layers=layers, argv=["sh", "-c", "id -u; pwd; echo $GREETING; hostname"],
                              env=["GREETING=hello"], user="app", workdir="/home/app", network="none"),
                      lines.append)
    assert (result.exit_code, lines) == (0, ["1000", "/home/app", "hello", "buildkitsandbox"])
    missing = run_step(RunStep(layers=layers, argv=["/no/such/tool"], env=[], network="none"),
                       lambda line: None)
    assert missing.exit_code == 127 and missing.tail == ["exec '/no/such/tool': No such file or directory"]
    assert missing.upper.is_dir()


def test_network_none_has_loopback_only_and_host_the_hosts(root, layers, created):
    lines: list[str] = []
    run_step(step(layers, "ls /sys/class/net"), lines.append)
    assert lines == ["lo"]
    host = sorted(os.listdir("/sys/class/net"))
    lines.clear()
    run_step(step(layers, "ls /sys/class/net", network="host"), lines.append)
    assert sorted(lines) == host


@pytest.fixture
def outside():
    """A namespace standing for the outside world, routed from the host through a veth."""
    ns = Netns(f"stktest-{secrets.token_hex(4)}")
    subprocess.run(["ip", "netns", "add", ns.name], check=True)
    host_end = f"sto{secrets.token_hex(4)}"
    third, fourth = secrets.randbelow(250) + 1, secrets.randbelow(60) * 4
    ns.host_ip, ns.ip = f"198.18.{third}.{fourth + 1}", f"198.18.{third}.{fourth + 2}"
    try:
        subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                        "netns", ns.name], check=True)
        subprocess.run(["ip", "addr", "add", f"{ns.host_ip}/30", "dev", host_end], check=True)
        subprocess.run(["ip", "link", "set", host_end, "up"], check=True)
        ns.run("ip", "addr", "add", f"{ns.ip}/30", "dev", "eth0", check=True)
        ns.run("ip", "link", "set", "eth0", "up", check=True)
        ns.run("ip", "link", "set", "lo", "up", check=True)
        yield ns
    finally:
        ns.cleanup()
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)


def test_default_network_reaches_the_outside_through_nat(root, layers, created, outside):
    caller_echo_server(outside, 8080)
    wait_tcp(outside.ip, 8080)
    with BuildNetwork() as net:
        assert not net.created and network.network_records() == []  # made on first use
        lines: list[str] = []
        result = run_step(step(layers, f"wget -qO- http://{outside.ip}:8080/; echo; grep -c nameserver /etc/resolv.conf; grep -w db /etc/hosts",
                               network="default", extra_hosts=["db:10.1.2.3"]), lines.append, network=net)
        assert result.exit_code == 0, lines
        # the outside sees the host's address: the step's own was masqueraded
        assert lines == [f"from {outside.host_ip}", "1", "10.1.2.3\tdb"]
        again = run_step(step(layers, "grep -w db /etc/hosts", network="default"), lines.append, network=net)
        assert again.exit_code == 1  # extra hosts are per step
        assert [n["name"] for n in network.network_records()] == [net.name()]
    assert network.network_records() == []


def test_an_interrupted_step_leaves_nothing(root, layers, created):
    def interrupt(line: str) -> None:
        if line == "started":
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the command runs

    with BuildNetwork() as net:
        with pytest.raises(KeyboardInterrupt):
            run_step(step(layers, "echo started; sleep 30", network="default"), interrupt, network=net)
        assert len(created) == 1
        assert_gone(created[0])
        assert list(runstep.scratch_root().iterdir()) == []
        assert not [p for p in (runstep.steps_root() / "containers").iterdir() if p.is_dir()]


KILLED_BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from stackup.engine.build.model import RunStep
    from stackup.engine.build.runstep import BuildNetwork, run_step
    net = BuildNetwork()
    run_step(RunStep(layers=[Path(p) for p in sys.argv[1:]], argv=["sh", "-c", "echo started; sleep 60"],
                     env=[]), lambda line: print(line, flush=True), network=net)
""")


def test_sweep_takes_away_what_a_killed_build_left(root, layers):
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, *map(str, layers)],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    finally:
        proc.kill()
        proc.wait()
    left = [p.name for p in (runstep.steps_root() / "containers").iterdir() if p.is_dir()]
    assert len(left) == 1 and len(network.network_records()) == 1
    removed = runstep.sweep()
    assert len(removed) == 2
    assert_gone(left[0])
    assert network.network_records() == []


def test_sweep_leaves_a_running_build_alone(root, layers, created):
    seen: list[list[str]] = []
    run_step(step(layers, "echo x"), lambda line: seen.append(runstep.sweep()))
    assert seen == [[]]


def test_mount_stubs_are_found_through_the_lower_layers(root, layers, created, tmp_path):
    # a second layer that deletes /www (a whiteout) and makes /var/run a link to /run
    top = tmp_path / "top"
    (top / "var").mkdir(parents=True)
    os.mknod(top / "www", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.symlink("../run", top / "var" / "run")
    token = tmp_path / "token"
    token.write_text("t\n")
    mounts = [RunMount("bind", "/www/data", str(tmp_path)),
              RunMount("bind", "/var/run/secrets/token", str(token), read_only=True)]
    result = run_step(step([*layers, top], "cat /run/secrets/token; ls /www", mounts=mounts),
                      lambda line: None)
    assert (result.exit_code, result.tail) == (0, ["t", "data"])
    assert entries(result.upper) == []


def test_step_containers_are_not_the_users_containers(root, layers, created):
    listed: list[subprocess.CompletedProcess] = []

    def list_containers(line: str) -> None:
        # the CLI's listing repairs and sweeps the user's containers: a step container
        # (another runtime root) is neither shown nor taken for a stray and killed
        listed.append(subprocess.run([sys.executable, "-m", "stackup", "container", "ps", "-a"],
                                     capture_output=True, text=True, timeout=60))

    result = run_step(step(layers, "echo listing; sleep 0.5; echo done"), list_containers)
    assert (result.exit_code, result.tail) == (0, ["listing", "done"])
    assert listed[0].returncode == 0, listed[0].stderr
    assert "stackup-build" not in listed[0].stdout and len(listed[0].stdout.splitlines()) == 1
