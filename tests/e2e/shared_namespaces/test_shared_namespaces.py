"""`ipc`, `pid` and `network_mode` `service:NAME` join that service's namespaces (a
message queue, its processes, its addresses seen from the joiner); `volumes_from` sees
its volumes (read-only with :ro); `uts`/`pid`/`ipc`/`cgroup: host` keep the host's; a
service sharing with a recreated service is recreated too."""

import os
import socket

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return stackup_busybox


def _ns(stack, service, kind):
    return stack.exec(service, f"readlink /proc/self/ns/{kind}").stdout.strip()


def test_shared_namespaces_and_volumes_from(stackup_stack):
    stack = stackup_stack("compose.yaml")
    for kind in ("ipc", "pid", "net"):
        assert _ns(stack, "joiner", kind) == _ns(stack, "base", kind)
    assert _ns(stack, "joiner", "uts") != _ns(stack, "base", "uts")
    # a POSIX message queue made in base is there in the joiner (the same IPC namespace)
    stack.exec("base", "touch /dev/mqueue/shared-q")
    assert "shared-q" in stack.exec("joiner", "ls /dev/mqueue").stdout
    # the joiner sees base's processes
    assert "sleep 1000" in stack.exec("joiner", "ps -o args").stdout
    # volumes_from: base's named and anonymous volumes, read-only here
    assert stack.exec("joiner", "cat /data/file /anon/file").stdout == "base-data\nanon\n"
    wrote = stack.exec("joiner", "touch /data/x", check=False)
    assert wrote.returncode != 0 and "Read-only file system" in wrote.stderr

    # host namespaces, seen from inside
    assert stack.exec("hosty", "hostname").stdout.strip() == socket.gethostname()
    for kind in ("uts", "pid", "ipc", "cgroup"):
        assert _ns(stack, "hosty", kind) == os.readlink(f"/proc/self/ns/{kind}")
    assert str(os.getpid()) in stack.exec("hosty", "ps -o pid").stdout.split()

    # base is recreated: the joiner, which shares its namespaces, is recreated with it
    before = {row["Service"]: row["ID"] for row in stack.ps()}
    plan = stack("up", "--dry-run", env={"MARK": "two"}).stdout
    assert "shares base's container, which is recreated" in plan, plan
    stack("up", "-d", env={"MARK": "two"})
    after = {row["Service"]: row["ID"] for row in stack.ps()}
    assert after["base"] != before["base"] and after["joiner"] != before["joiner"]
    assert after["hosty"] == before["hosty"]
    assert _ns(stack, "joiner", "pid") == _ns(stack, "base", "pid")
