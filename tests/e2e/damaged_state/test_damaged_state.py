"""A damaged state file of a running stack (a container's, the network's, the volume's,
a port's: emptied, cut in half, garbage, JSON of the wrong shape, deleted) is input, not
a crash: `ps` and `up -d` answer without a traceback and leave exactly one container per
replica (never a second database on the volume), the volume's data survives, and
`down -v` leaves nothing behind. One stack per kind of file, each damage in turn."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

PROJECT = "e2e-damaged"
DAMAGES: dict[str, Callable[[bytes], bytes | None]] = {
    "empty": lambda good: b"",
    "cut": lambda good: good[: len(good) // 2],
    "garbage": lambda good: b"\x00\xff not json at all \x01" * 4,
    "wrong shape": lambda good: b'{"id": 42, "endpoints": [], "users": "x", "bindings": 7}\n',
    "deleted": lambda good: None,
}


def container_state(root: Path, service: str) -> Path:
    for path in root.glob("containers/*/state.json"):
        if json.loads(path.read_text())["name"] == f"{PROJECT}-{service}-1":
            return path
    raise AssertionError(f"no state file for {service}")


FILES: dict[str, Callable[[Path], Path]] = {
    "container": lambda root: container_state(root, "db"),
    "network": lambda root: next(root.glob("networks/*.json")),
    "volume": lambda root: root / "volumes" / f"{PROJECT}_data" / "meta.json",
    "port": lambda root: root / "ports" / f"{container_state(root, 'web').parent.name}.json",
}


def shims(root: Path) -> set[str]:
    """The ids of the containers of this root that have a shim (a process whose command
    line is `... stackup-shim <container dir> <id> ...`; a shim's forks carry it too)."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "stackup-shim" in argv and str(root) in argv[argv.index("stackup-shim") + 1]:
            found.add(argv[argv.index("stackup-shim") + 2])
    return found


def no_traceback(proc) -> None:
    for text in (proc.stdout, proc.stderr):
        assert "Traceback" not in text and "internal error" not in text, text


@pytest.mark.parametrize("kind", FILES)
def test_a_damaged_state_file_converges(stack, kind):
    stack("up", "-d", "--wait")
    marker = stack.root / "volumes" / f"{PROJECT}_data" / "_data" / "marker"
    marker.write_text("the data")
    for damage, how in DAMAGES.items():
        path = FILES[kind](stack.root)
        data = how(path.read_bytes())
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)
        said = ""
        for command in (("ps", "-a"), ("port", "web", "8080"), ("up", "-d", "--wait")):
            done = stack(*command, check=False)
            no_traceback(done)
            assert done.returncode == 0 or command[0] == "port", (damage, done.stdout, done.stderr)
            said += done.stderr
        if kind == "port":  # only a stop reads a port's record (up's supervision may, later)
            said += stack("up", "-d", "--wait", "--force-recreate", "web").stderr
        if data is not None:  # whichever command read it first said so, and kept it
            assert f"{path} is damaged" in said, (damage, said)
            assert Path(f"{path}.damaged").exists() or kind == "container"
        listed = stack.ps("-a")
        assert sorted((c["Service"], c["State"]) for c in listed) == [("db", "running"), ("web", "running")], \
            (damage, listed)
        assert len(shims(stack.root)) == 2, (damage, shims(stack.root))  # one container per replica
        assert marker.read_text() == "the data", damage
    down = stack("down", "-v", check=False)
    no_traceback(down)
    assert down.returncode == 0, down.stderr
    assert stack.wait_gone() == []
    assert shims(stack.root) == set()


def test_system_check_lists_then_repairs_every_kind_of_damage(stack):
    stack("up", "-d", "--wait")
    paths = {kind: where(stack.root) for kind, where in FILES.items()}
    paths["container"].write_text("{}")
    paths["network"].unlink()
    paths["port"].write_text("garbage")
    paths["volume"].write_text("")
    listed = stack("system", "check", "--dry-run", check=False)
    no_traceback(listed)
    assert listed.returncode == 1, listed.stdout
    for kind in ("container", "port", "volume"):
        assert f"found: {paths[kind]}: damaged" in listed.stdout, listed.stdout
        assert paths[kind].exists(), "a dry run changes nothing"
    assert "has no record but containers on it" in listed.stdout
    repaired = stack("system", "check", check=False)
    no_traceback(repaired)
    assert repaired.returncode == 1 and repaired.stdout.startswith(listed.stdout.rsplit("\n", 2)[0])
    assert "had no readable record: rebuilt from the" in repaired.stderr, repaired.stderr
    again = stack("system", "check", check=False)
    assert (again.returncode, again.stdout) == (0, "the engine's state is consistent\n"), again.stdout
    stack("up", "-d", "--wait")
    assert len(shims(stack.root)) == 2
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_a_container_whose_directory_and_shim_are_gone_is_found_by_its_cgroup(stack):
    stack("up", "-d", "--wait")
    state = container_state(stack.root, "db")
    cid = state.parent.name
    shim = json.loads(state.read_text())["shim_pid"]
    os.kill(shim, signal.SIGKILL)
    shutil.rmtree(state.parent)
    up = stack("up", "-d", "--wait", check=False)
    no_traceback(up)
    assert up.returncode == 0, up.stderr
    assert f"container {cid[:12]} has no directory but its processes run" in up.stderr
    assert len(shims(stack.root)) == 2 and cid not in shims(stack.root)
    cgroup_root = Path("/sys/fs/cgroup")
    assert not [*cgroup_root.glob(f"stackup/{cid}"), *cgroup_root.glob(f"*/stackup/{cid}")]
    stack("down", "-v")
    assert stack.wait_gone() == []
