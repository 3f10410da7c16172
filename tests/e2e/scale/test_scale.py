"""Scaling up adds numbered containers; scaling down removes the highest."""

import json
import select
import signal

import pytest

from stackup.testing.stack import busybox_cache, stack  # noqa: F401

pytestmark = pytest.mark.root


def names(stack):
    return sorted(row["Name"] for row in stack.ps("-a"))


def test_scale_up_and_down(stack):
    stack("up", "-d")
    assert names(stack) == ["e2e-scale-worker-1", "e2e-scale-worker-2"]
    first = {row["Name"]: row["ID"] for row in stack.ps()}
    events = stack.popen("events", "--json")
    while True:       # until `events` is watching: it reports a pause made after it started
        stack("pause", "worker")
        stack("unpause", "worker")
        if select.select([events.stdout], [], [], 1.0)[0]:
            break
    stack("up", "-d", "--scale", "worker=4")
    assert names(stack) == [f"e2e-scale-worker-{n}" for n in (1, 2, 3, 4)]
    stack("up", "-d", "--scale", "worker=1")
    assert names(stack) == ["e2e-scale-worker-1"]
    events.send_signal(signal.SIGINT)
    seen = [json.loads(line) for line in events.communicate(timeout=30)[0].splitlines()]
    actions = [(e["attributes"]["name"], e["action"]) for e in seen]
    for n in (3, 4):
        assert (f"e2e-scale-worker-{n}", "create") in actions and (f"e2e-scale-worker-{n}", "destroy") in actions
    assert (("e2e-scale-worker-2", "die") in actions or ("e2e-scale-worker-2", "destroy") in actions), actions
    assert stack.ps()[0]["ID"] == first["e2e-scale-worker-1"]   # the kept one was not touched
    stack("down", "-v")
    assert stack.wait_gone() == []
