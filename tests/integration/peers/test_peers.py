"""Images cross between stackup and real peers: a private dockerd and a private podman.

An image written by `stackup image save` loads with `docker load` / `podman load` and
runs there (its layers stacked as stackup stacked them: a file a later layer deletes
is gone); an image written by `docker save` / `podman save` (docker-archive and
oci-archive) loads back with `stackup image load` with the same layers (diff_ids, image
id, and unpacked trees). Skips only when the peer is not installed or cannot start
here, with the reason.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from stackup.engine.images import digest as dg
from stackup.engine.images import platform as plat
from stackup.engine.images.store import ImageStore
from stackup.testing import peers
from stackup.testing.images import busybox_image
from stackup.testing.layers import TarBuilder, gzip_bytes
from stackup.testing.rootfs import BUSYBOX
from stackup.testing.stack import stackup_command
from stackup.testing.trees import signature

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (a private dockerd and podman)", allow_module_level=True)
if not BUSYBOX.exists():
    pytest.skip("busybox-static missing", allow_module_level=True)

BUSYBOX_REF = "stackup.local/busybox:latest"
LAYERED_REF = "stackup.local/layered:2"
# The top layer adds a file, deletes busybox's /bin/yes (a whiteout) and replaces /home's
# contents (an opaque directory): a peer that stacks layers as stackup does sees this.
TOP = (TarBuilder().dir("etc").file("etc/peer", b"from stackup\n").dir("bin").whiteout("bin/yes")
       .dir("home").opaque("home").file("home/only", b"x").bytes())
CHECK = "cat /etc/peer && test ! -e /bin/yes && test -e /bin/wc && ls /home"


def layered_image(store: ImageStore, base):
    """busybox's layer plus TOP, as a two-layer image written straight into the store."""
    manifest = store.manifest(base)
    base_desc = manifest["layers"][0]
    top = gzip_bytes(TOP)
    layers = [(base_desc["digest"], base_desc["size"], base_desc["mediaType"]),
              (store.blobs.put_bytes(top), len(top), "application/vnd.oci.image.layer.v1.tar+gzip")]
    doc = {"architecture": plat.host().architecture, "os": "linux",
           "config": {"Cmd": ["sh"], "Env": ["PATH=/bin:/sbin:/usr/bin"]},
           "rootfs": {"type": "layers", "diff_ids": [base.diff_ids[0], dg.of_bytes(TOP)]}}
    return store.write_image(doc, layers, [LAYERED_REF])


@pytest.fixture(scope="module")
def work():
    with tempfile.TemporaryDirectory(prefix="stackup-peers-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def source(work):
    """A stackup store with both images and the archive `stackup image save` made of them."""
    store = ImageStore(work / "src" / "images")
    images = {BUSYBOX_REF: busybox_image(store, BUSYBOX_REF)}
    images[LAYERED_REF] = layered_image(store, images[BUSYBOX_REF])
    archive = work / "from-stackup.tar"
    env = dict(os.environ, STACKUP_ROOT=str(work / "src"))
    proc = subprocess.run(stackup_command() + ["image", "save", "-o", str(archive), BUSYBOX_REF,
                                               LAYERED_REF], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return store, images, archive


def started(manager, folder):
    """Enter a peer's context or skip the module's tests that need it, saying why."""
    stack = manager(folder)
    try:
        peer = stack.__enter__()
    except peers.PeerUnavailable as exc:
        pytest.skip(f"{manager.__name__}: {exc}")
    return stack, peer


@pytest.fixture(scope="module", params=["docker", "podman"])
def peer(request, work, source):
    manager = {"docker": peers.dockerd, "podman": peers.podman}[request.param]
    stack, running = started(manager, work / request.param)
    try:
        names = running.load(source[2])
        yield running, names
    finally:
        stack.__exit__(None, None, None)


def run_args(peer):
    return ["run", "--rm", "--network", "none"]


def test_stackup_saved_image_loads_and_runs_in_peer(peer):
    running, names = peer
    assert sorted(names) == sorted([BUSYBOX_REF, LAYERED_REF])
    assert running.run(*run_args(running), BUSYBOX_REF, "true").returncode == 0
    out = running.run(*run_args(running), LAYERED_REF, "sh", "-c", CHECK).stdout.decode()
    assert out == "from stackup\nonly\n"
    failed = running.run(*run_args(running), BUSYBOX_REF, "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3


def formats(peer_name):
    """podman saves both; docker's own save writes docker-archive, skopeo (an independent
    client, in .ci/apt.d/images.txt) copies the OCI archive out of the daemon."""
    if peer_name == "docker" and not shutil.which("skopeo"):
        return ["docker-archive"]
    return ["docker-archive", "oci-archive"]


def test_peer_saved_image_loads_back_into_stackup_with_identical_layers(peer, source, work):
    running, _ = peer
    store, images, _ = source
    for fmt in formats(running.name):
        for ref, original in images.items():
            archive = work / f"{running.name}-{fmt}-{original.short_id}.tar"
            running.save(ref, archive, fmt)
            root = work / f"back-{running.name}-{fmt}-{original.short_id}"
            env = dict(os.environ, STACKUP_ROOT=str(root))
            proc = subprocess.run(stackup_command() + ["image", "load", "-i", str(archive)],
                                  env=env, capture_output=True, text=True)
            assert proc.returncode == 0, f"{fmt}: {proc.stderr}"
            back = ImageStore(root / "images")
            loaded = back.resolve(ref) if fmt == "docker-archive" else back.list()[0]
            assert loaded.diff_ids == original.diff_ids, fmt
            if fmt == "docker-archive":  # the same config, byte for byte
                assert loaded.id == original.id
            else:  # podman and skopeo rewrite the config as an OCI one: the same settings
                assert (loaded.config.cmd, loaded.config.env) == (original.config.cmd, original.config.env)
            assert ([signature(d) for d in loaded.layer_dirs()]
                    == [signature(d) for d in original.layer_dirs()]), fmt


def test_peer_leaves_nothing_behind(work, source):
    """Everything a peer made goes with it: processes, mounts, cgroups, its directory."""
    for manager in (peers.dockerd, peers.podman):
        folder = work / f"gone-{manager.__name__}"
        strays = peers._absent(peers.DOCKER_STRAYS + peers.PODMAN_STRAYS)
        stack, running = started(manager, folder)
        try:
            running.load(source[2])
            running.run("run", "-d", "--network", "none", BUSYBOX_REF, "sleep", "1000")
        finally:
            stack.__exit__(None, None, None)
        assert not folder.exists()
        assert peers._processes_under(folder) == []
        assert peers._mounts_under(folder) == []
        assert [p for p in strays if os.path.lexists(p)] == []
