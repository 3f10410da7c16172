"""`stackup image` as a user runs it: import, ls, inspect, tag, rm, prune, and bad input."""

import json
import os
import subprocess
import sys

import pytest

from stackup.testing.layers import TarBuilder
from stackup.testing.registry import REGISTRY_BIN, LocalRegistry
from stackup.testing.rootfs import BUSYBOX, make_busybox_rootfs, tar_directory

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (image layers keep owners and devices)", allow_module_level=True)


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, STACKUP_ROOT=str(tmp_path / "root"), DOCKER_CONFIG=str(tmp_path / "docker"))


@pytest.fixture
def stackup(env):

    def run(*args, check=True, input=None):
        proc = subprocess.run([sys.executable, "-m", "stackup", *args], env=env, capture_output=True,
                              text=True, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"stackup {' '.join(args)} failed: {proc.stderr}")
        return proc
    return run


@pytest.fixture
def rootfs_tar(tmp_path):
    if not BUSYBOX.exists():
        pytest.skip("busybox-static missing")
    return tar_directory(make_busybox_rootfs(tmp_path / "rootfs"), tmp_path / "rootfs.tar")


def test_import_ls_inspect_tag_rm(stackup, rootfs_tar):
    image_id = stackup("image", "import", str(rootfs_tar), "demo/busybox:1",
                       "--change", 'CMD ["sh"]', "-c", "ENV GREETING=hi").stdout.strip()
    assert image_id.startswith("sha256:")
    listing = stackup("image", "ls").stdout.splitlines()
    assert listing[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert listing[1].split()[:3] == ["demo/busybox", "1", image_id[7:19]]
    (doc,) = json.loads(stackup("image", "inspect", "demo/busybox:1").stdout)
    assert doc["Id"] == image_id and doc["Config"]["Cmd"] == ["sh"]
    assert doc["Config"]["Env"] == ["GREETING=hi"]
    assert os.path.isfile(os.path.join(doc["LayerDirs"][0], "bin", "busybox"))
    stackup("image", "tag", "demo/busybox:1", "localhost:5000/busybox")
    assert stackup("image", "ls", "-q").stdout.split() == [image_id[7:19]]
    assert stackup("image", "rm", "demo/busybox:1").stdout.strip() == "Untagged: docker.io/demo/busybox:1"
    out = stackup("image", "rm", "localhost:5000/busybox").stdout.splitlines()
    assert out == ["Untagged: localhost:5000/busybox:latest", f"Deleted: {image_id}"]
    assert stackup("image", "ls", "-q").stdout == ""


def test_import_from_stdin_and_prune(stackup, tmp_path):
    data = TarBuilder().file("hello", b"hi").bytes()
    proc = subprocess.run([sys.executable, "-m", "stackup", "image", "import", "-"], input=data,
                          env=dict(os.environ, STACKUP_ROOT=str(tmp_path / "root")), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    image_id = proc.stdout.decode().strip()
    assert "<none>" in stackup("image", "ls", "-a").stdout
    out = stackup("image", "prune", "-f").stdout
    assert f"Deleted: {image_id}" in out and "Total reclaimed space" in out


@pytest.mark.parametrize("args, message", [
    (["image", "import", "/nonexistent.tar", "x"], "/nonexistent.tar: no such file"),
    (["image", "inspect", "missing"], "no such image: missing"),
    (["image", "rm", "Bad:Name:x"], "invalid reference format"),
    (["image", "import", "/dev/null", "x", "-c", "RUN true"], "RUN is not allowed here"),
])
def test_bad_input_is_one_line_and_exit_2(stackup, args, message):
    proc = stackup(*args, check=False)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in proc.stderr


def test_evil_rootfs_is_refused_and_leaves_nothing(stackup, tmp_path):
    evil = tmp_path / "evil.tar"
    evil.write_bytes(TarBuilder().symlink("x", "/").file("x/tmp/owned", b"!").bytes())
    proc = stackup("image", "import", str(evil), "evil", check=False)
    assert proc.returncode == 2 and "through the symlink 'x'" in proc.stderr
    assert not os.path.exists("/tmp/owned")
    assert stackup("image", "ls", "-qa").stdout == ""
    layers = tmp_path / "root" / "images" / "layers"
    assert not layers.exists() or os.listdir(layers) == []


@pytest.mark.skipif(not REGISTRY_BIN.exists(), reason="docker-registry missing")
def test_push_pull_save_load_through_the_cli(stackup, rootfs_tar, tmp_path, env):
    with LocalRegistry(tmp_path / "registry", auth="htpasswd") as reg:
        reg.docker_config(tmp_path / "docker")
        name = f"{reg.host}/demo/busybox:1"
        image_id = stackup("image", "import", str(rootfs_tar), name, "-c", 'CMD ["sh"]').stdout.strip()
        pushed = stackup("image", "push", name)
        assert pushed.stdout.strip().startswith(f"{name}@sha256:")
        assert "Pushed" in pushed.stderr  # plain progress lines: stderr is not a terminal
        stackup("image", "rm", name)
        pulled = stackup("image", "pull", name)
        assert pulled.stdout.strip() == name and "Pull complete" in pulled.stderr
        (doc,) = json.loads(stackup("image", "inspect", name).stdout)
        assert doc["Id"] == image_id and doc["RepoDigests"][0].startswith(f"{reg.host}/demo/busybox@sha256:")
        stackup("image", "save", "-o", str(tmp_path / "saved.tar"), name)
        stackup("image", "rm", name)
        loaded = stackup("image", "load", "-i", str(tmp_path / "saved.tar"))
        assert loaded.stdout.strip() == f"Loaded image: {name}"
        assert stackup("image", "ls", "-q", "--no-trunc").stdout.strip() == image_id
        missing = stackup("image", "pull", f"{reg.host}/demo/none:1", check=False)
        assert missing.returncode == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
        env_no_creds = dict(env, DOCKER_CONFIG=str(tmp_path / "nothing"))
        denied = subprocess.run([sys.executable, "-m", "stackup", "image", "pull", name], env=env_no_creds,
                                capture_output=True, text=True)
        assert denied.returncode == 1 and "needs a user name and password" in denied.stderr
