"""Helpers for tests that run containers on the real kernel (runtime and project tests).

`assert_no_trace` is the leak check: after a container is removed, nothing of it may
remain (its directory, netns file, cgroups, mounts in this namespace, processes).
"""

import os
import subprocess
import sys

from stackup.engine.runtime import cgroups
from stackup.engine.runtime.containerstate import ContainerState
from stackup.engine.runtime.spec import ContainerSpec


def spec(rt, argv, **kw) -> ContainerSpec:
    return ContainerSpec(layers=[str(rt.layer)], argv=list(argv), **kw)


def output(rt, cid: str, stream: str | None = None) -> str:
    from stackup.engine.runtime import logs

    return "".join(e["log"] for e in logs.select(rt.cdir(cid) / "container.log")
                   if stream is None or e["stream"] == stream)


def run(rt, argv, **kw) -> tuple[int, str, ContainerState]:
    """Create, start and wait for a container; (exit code, its output, its state)."""
    state = rt.create(spec(rt, argv, **kw))
    rt.start(state.id)
    code = rt.wait(state.id, timeout=60)
    return code, output(rt, state.id), rt.get(state.id)


def sh(rt, script, **kw):
    return run(rt, ["sh", "-c", script], **kw)


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def assert_no_trace(rt, cid: str) -> None:
    """Nothing of the container is left: files, cgroups, mounts, netns, processes."""
    assert not rt.cdir(cid).exists(), "container directory left"
    assert not (rt.netns_dir / cid).exists(), "netns file left"
    assert not cgroups.Cgroup(cid).exists(), "cgroup left"
    with open("/proc/self/mountinfo") as f:
        assert cid not in f.read(), "mount left"
    assert processes_mentioning(cid) == [], "process left"


def cli_runner(root, default_check):
    """`run(*args, group="container", check=...)`: the CLI as a user runs it."""
    env = dict(os.environ, STACKUP_ROOT=str(root))

    def run(*args, check=default_check, group="container", **kw):
        proc = subprocess.run([sys.executable, "-m", "stackup", group, *args], env=env,
                              capture_output=True, text=True, timeout=120, **kw)
        if check is not None:
            assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
        return proc

    run.root = root
    return run


def leftovers(root):
    d = root / "containers"
    return [p.name for p in d.iterdir() if p.is_dir()] if d.exists() else []
