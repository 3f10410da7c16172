"""A built image travels like any other (push, pull, save, load give it back equal), and a
build killed in the middle of a RUN leaves nothing the next build does not take away."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackup.engine.build import build
from stackup.engine.build.model import BuildOptions
from stackup.engine.images import archive
from stackup.engine.images.pull import pull
from stackup.engine.images.push import push
from stackup.engine.images.store import ImageStore
from stackup.engine.runtime import cgroups
from stackup.testing.containers import processes_mentioning
from stackup.testing.images import busybox_image
from stackup.testing.registry import REGISTRY_BIN, LocalRegistry

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (mounts, containers)", allow_module_level=True)

BASE = "stackup.local/busybox:latest"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    store = ImageStore()
    busybox_image(store, BASE)
    return store


def context(folder: Path, dockerfile: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(dockerfile)
    (folder / "app.txt").write_text("app\n")
    return folder


@pytest.mark.skipif(not REGISTRY_BIN.exists(), reason="docker-registry missing")
def test_a_built_image_is_pushed_saved_loaded_and_pulled_back_equal(store, tmp_path, monkeypatch):
    ctx = context(tmp_path / "ctx", f"FROM {BASE}\nCOPY app.txt /app.txt\nRUN rm /bin/vi && echo x > /x\n")
    built = build(BuildOptions(context=ctx, tags=["stackup.local/built:1"]))
    saved = tmp_path / "built.tar"
    with open(saved, "wb") as out:
        archive.save(store, ["stackup.local/built:1"], out)
    with LocalRegistry(tmp_path / "registry") as reg:
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
        remote = f"{reg.host}/built:1"
        store.tag("stackup.local/built:1", remote)
        push(store, remote)
        store.rm(remote)
        store.rm("stackup.local/built:1")
        store.gc()
        assert pull(store, remote).id == built.id
        store.rm(remote)
        store.gc()
    (loaded,) = archive.load(store, saved)
    assert store.resolve("stackup.local/built:1").id == built.id


def test_a_build_killed_in_a_run_leaves_nothing_the_next_build_keeps(store, tmp_path):
    root = Path(os.environ["STACKUP_ROOT"])
    ctx = context(tmp_path / "ctx", f"FROM {BASE}\nRUN echo started && sleep 60\n")
    code = ("import sys; from pathlib import Path; from stackup.engine.build import build;"
            "from stackup.engine.build.model import BuildOptions;"
            f"build(BuildOptions(context=Path({str(ctx)!r})))")
    child = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ))
    steps = root / "build" / "steps" / "containers"
    deadline = time.monotonic() + 60
    while not (steps.is_dir() and step_containers(steps)):
        assert child.poll() is None and time.monotonic() < deadline, "the RUN step never started"
        time.sleep(0.05)
    time.sleep(0.3)
    (killed,) = step_containers(steps)
    child.send_signal(signal.SIGKILL)
    child.wait()

    other = context(tmp_path / "other", f"FROM {BASE}\nRUN echo fine > /fine\n")
    build(BuildOptions(context=other))
    assert step_containers(steps) == []
    assert not cgroups.Cgroup(killed).exists()
    assert processes_mentioning(killed) == []
    assert [p.name for p in (root / "build" / "tmp").iterdir() if p.name != ".lock"] == []
    with open("/proc/self/mountinfo") as f:
        assert [line for line in f if str(root) in line] == []


def step_containers(steps: Path) -> list[str]:
    return [p.name for p in steps.iterdir() if not p.name.startswith(".")] if steps.is_dir() else []
