"""Each window a kill found, reproduced at its step: the command is cut short exactly
there (or the step's state is made directly), then `up -d` must converge and `down -v`
leave nothing."""

import contextlib
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.faults]


def test_recreate_after_an_exit_whose_network_was_kept(checks):
    """A container that exited (killed, or a `stop` cut short between the exit and the
    network's teardown) kept its endpoint and its port's proxy: the recreate's new
    container found the port in use."""
    checks.run("up", "-d")
    checks.run("kill", "web")
    checks.generation += 1
    checks.run("up", "-d")
    checks.check_converged(data=False)


def _network(checks):
    import json

    [path] = (checks.cli.root / "networks").glob("*.json")
    return json.loads(path.read_text())


def test_network_whose_create_was_cut_before_its_address(checks):
    """`up` killed while it created the network: the bridge exists, but without its
    gateway address and with no DNS server. The next start's DNS server could not bind
    ("cannot serve DNS on 10.89.0.1:53: Cannot assign requested address")."""
    import os
    import signal
    import subprocess

    checks.run("up", "-d")
    checks.run("stop")
    net = _network(checks)
    os.kill(net["dns_pid"], signal.SIGKILL)
    subprocess.run(["ip", "addr", "flush", "dev", net["bridge"]], check=True)
    checks.run("up", "-d")
    checks.check_converged(data=False)


def _forget_pid(path, key):
    """Rewrite a record as a command killed right after starting its helper left it."""
    import json

    record = json.loads(path.read_text())
    record[key] = None
    path.write_text(json.dumps(record))


def test_dns_server_started_by_a_killed_create_but_never_recorded(checks):
    """`up` killed between starting the network's DNS server and recording its pid: the
    next start found no server, started one, and it could not bind ("Address already in
    use"); `down -v` then left the unrecorded one running."""
    checks.run("up", "-d")
    checks.run("stop")
    [path] = (checks.cli.root / "networks").glob("*.json")
    _forget_pid(path, "dns_pid")
    checks.run("up", "-d")
    checks.check_converged(data=False)


def test_port_proxy_started_by_a_killed_start_but_never_recorded(checks):
    """A start killed between starting the port's proxy and recording its pid: the
    proxy kept the port, so the recreated container could not publish it."""
    checks.run("up", "-d")
    web = next(r["ID"] for r in checks.cli.ps() if r["Service"] == "web")
    [path] = (checks.cli.root / "ports").glob(f"{web}*.json")
    _forget_pid(path, "pid")
    checks.generation += 1
    checks.run("up", "-d")
    checks.check_converged(data=False)


def test_start_killed_after_pid_1_began_but_before_its_shim(checks):
    """`up` killed while a start's fork had started PID 1 but not yet become the shim:
    PID 1 ran on with no shim, the state stayed "starting" (taken for running), and the
    next `up` waited for its health forever. It is killed and started again, once."""
    import json
    import os
    import signal
    import subprocess

    from stackup.engine.runtime.cgroups import Cgroup
    from stackup.testing.containers import processes_mentioning

    checks.run("up", "-d")
    db = next(r["ID"] for r in checks.cli.ps() if r["Service"] == "db")
    [path] = (checks.cli.root / "containers").glob(f"{db}*/state.json")
    state = json.loads(path.read_text())
    for pid in processes_mentioning(state["id"]):   # the shim and its forks (a healthcheck)
        with contextlib.suppress(OSError):
            if b"stackup-shim" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
    # what lives on in the container's cgroup: an orphaned PID 1
    orphan = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    Cgroup(state["id"]).add(orphan.pid)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    state.update(status="starting", creator_pid=dead, shim_pid=0, pid=0)
    state.pop("health", None)   # no check ran yet
    path.write_text(json.dumps(state))
    try:
        checks.run("up", "-d")
        checks.check_converged(data=False)
        assert orphan.poll() is not None, "the orphan in the container's cgroup was left running"
    finally:
        orphan.kill()
        orphan.wait()
