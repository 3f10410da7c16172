"""Scaling up adds numbered containers; scaling down removes the highest."""

import json
import os
import select
import signal
import time

import pytest

pytestmark = pytest.mark.root


def names(stack):
    return sorted(row["Name"] for row in stack.ps("-a"))


def actions_in(output: str) -> list[tuple[str, str]]:
    """(container name, action) of each whole line `events --json` printed."""
    lines = output.split("\n")[:-1]
    return [(e["attributes"]["name"], e["action"]) for e in map(json.loads, filter(str.strip, lines))]


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
    # `events` reports what it observes a moment later: read until the removals show
    # (or a minute passes), then stop it. (Unbuffered reads: select sees only the pipe.)
    out = ""
    removals = {("e2e-scale-worker-3", "destroy"), ("e2e-scale-worker-4", "destroy")}
    deadline = time.monotonic() + 60
    while not removals <= set(actions_in(out)) and time.monotonic() < deadline:
        if select.select([events.stdout], [], [], 1.0)[0]:
            out += os.read(events.stdout.fileno(), 65536).decode()
    events.send_signal(signal.SIGINT)
    actions = actions_in(out + events.communicate(timeout=30)[0])
    for n in (3, 4):
        assert (f"e2e-scale-worker-{n}", "create") in actions and (f"e2e-scale-worker-{n}", "destroy") in actions
    assert (("e2e-scale-worker-2", "die") in actions or ("e2e-scale-worker-2", "destroy") in actions), actions
    assert stack.ps()[0]["ID"] == first["e2e-scale-worker-1"]   # the kept one was not touched
    stack("down", "-v")
    assert stack.wait_gone() == []
