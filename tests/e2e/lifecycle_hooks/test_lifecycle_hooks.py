"""`post_start` hooks run in the started container (with their user, working dir,
environment, privileges); `pre_stop` hooks run before the stop signal, on `stop`, on a
recreate and on `down`. `annotations` show in `container inspect`; `attach: false` hides a service's output
from `up`."""

import json

import pytest

pytestmark = pytest.mark.root


def _order(stack):
    return stack("exec", "app", "cat", "/log/order").stdout.split("\n")[:-1]


def _volume_file(stack, volume, name):
    info = json.loads(stack("volume", "inspect", volume).stdout)
    with open(f"{info[0]['Mountpoint']}/{name}") as f:
        return f.read().split("\n")[:-1]


def test_hooks_around_start_and_stop(stack):
    stack("up", "-d", "app")
    # post_start ran in the started container: PID 1 is already the service's command
    assert _order(stack) == ["post_start sh -c"]
    assert stack("exec", "app", "cat", "/tmp/as-user").stdout == "65534 /tmp from-hook\n"
    caps = stack("exec", "app", "cat", "/tmp/caps").stdout.split()[1]
    privileged = stack("exec", "app", "cat", "/tmp/caps-privileged").stdout.split()[1]
    assert caps != privileged and int(privileged, 16) > int(caps, 16)

    # stop: pre_stop first, then the signal PID 1 traps; start runs post_start again
    stack("stop", "app")
    stack("start", "app")
    assert _order(stack) == ["post_start sh -c", "pre_stop", "TERM", "post_start sh -c"]

    # a recreate stops the old container with its pre_stop; the new one's post_start follows
    stack("up", "-d", "app", env={"MARK": "two"})
    assert _order(stack)[4:] == ["pre_stop", "TERM", "post_start sh -c"]

    # down, too
    stack("down")
    assert _volume_file(stack, "e2e-hooks_log", "order")[7:] == ["pre_stop", "TERM"]
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_annotations_in_inspect(stack):
    stack("up", "-d", "app")
    name = stack.ps()[0]["Name"]
    host_config = json.loads(stack("container", "inspect", name).stdout)[0]["HostConfig"]
    assert host_config["Annotations"] == {"com.example.team": "hooks", "com.example.tier": "test"}
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_attach_false_hides_the_output(stack):
    up = stack("up", "--no-color", "talker", "quiet")
    assert "talker-done" in up.stdout, up.stdout
    assert "quiet-output" not in up.stdout, up.stdout
    assert "e2e-hooks-quiet-1" not in up.stdout
    # its output is still in its log
    assert "quiet-output" in stack("logs", "quiet").stdout
    stack("down", "-v")
    assert stack.wait_gone() == []
