"""`devices` makes the host's node in the container (owner and mode as on the host),
the device cgroup allows just the access asked for (v1); `device_cgroup_rules` adds
rules; `group_add` adds groups, by name (the container's /etc/group) or number."""

import glob
import os

import pytest

from stackup.engine.runtime import cgpaths

pytestmark = pytest.mark.root


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return stackup_busybox


def test_devices_rules_and_groups(stackup_stack):
    stack = stackup_stack("compose.yaml")
    nodes = stack.exec("app", "stat -c '%n %t:%T %a' /dev/mynull /dev/extra/kmsg").stdout.splitlines()
    kmsg = oct(os.stat("/dev/kmsg").st_mode & 0o777)[2:]
    assert nodes == ["/dev/mynull 1:3 666", f"/dev/extra/kmsg 1:b {kmsg}"]
    # the node works: writes vanish, reads are empty
    assert stack.exec("app", "echo gone > /dev/mynull && cat /dev/mynull | wc -c").stdout.strip() == "0"
    # its own groups (app, users), then those added
    assert sorted(stack.exec("app", "id -G").stdout.split(), key=int) == ["33", "100", "1000", "4242"]
    if cgpaths.is_v2():
        return  # the device controller of v2 is a BPF program: not loaded by the engine yet
    short = stack.ps()[0]["ID"]
    (folder,) = glob.glob(cgpaths.container_dirs(short)["devices"] + "*")
    rules = open(f"{folder}/devices.list").read().split("\n")
    assert "c 1:11 r" in rules and "c 10:229 rwm" in rules
    # only read was allowed on the kmsg node: opening it for writing is refused
    wrote = stack("exec", "-T", "--user", "root", "app", "sh", "-c", "echo x > /dev/extra/kmsg", check=False)
    assert wrote.returncode != 0 and "Operation not permitted" in wrote.stderr
    # the rule lets root open a node it makes of 10:229 (a device not in the defaults)
    opened = stack("exec", "-T", "--user", "root", "app", "sh", "-c",
                   "mknod /tmp/fuse c 10 229 && : <> /tmp/fuse", check=False)
    assert "Operation not permitted" not in opened.stderr, opened.stderr
