"""Service options that only need passing on: dns_opt, label_file, the native platform,
runtime runc, userns_mode host; and another platform refused by name."""

import json

import pytest

from stackup.engine.images import platform

pytestmark = pytest.mark.root


def test_options_take_effect_inside(stack):
    native = str(platform.host())
    stack.env["NATIVE_PLATFORM"] = native
    stack("up", "-d")
    resolv = stack("exec", "app", "cat", "/etc/resolv.conf").stdout
    assert "options ndots:3 use-vc" in resolv
    name = stack.ps()[0]["Name"]
    labels = json.loads(stack("container", "inspect", name).stdout)[0]["Config"]["Labels"]
    assert labels["com.example.team"] == "web"
    for path in ("/etc/app.labels", "/etc/app.labels.2"):
        assert stack("exec", "app", "cat", path).stdout == "com.example.team=web\n"
    # the host's user namespace: uid 0 maps to 0 over the whole range
    assert stack("exec", "app", "cat", "/proc/self/uid_map").stdout.split() == ["0", "0", "4294967295"]
    stack("down")
    stack.env["NATIVE_PLATFORM"] = "linux/s390x" if native != "linux/s390x" else "linux/amd64"
    refused = stack("up", "-d", check=False)
    assert refused.returncode == 2
    assert "services.app.platform (linux/" in refused.stderr and "this machine's platform only" in refused.stderr
    assert stack.wait_gone() == []
