"""docker.io names served by a registries.conf mirror: a real registry (Debian's
docker-registry) on loopback, the image put there by skopeo, pulled by stackup under its
Docker Hub name. Every test is mirror-only or ends at the mirror, so none reaches Docker Hub."""

import os
import subprocess

import pytest

from stackup.engine.images import platform as plat
from stackup.engine.images.progress import Progress
from stackup.engine.images.pull import pull
from stackup.engine.images.store import ImageStore
from stackup.errors import NotFoundError
from stackup.testing.layers import TarBuilder
from stackup.testing.oci import OciLayout
from stackup.testing.registry import REGISTRY_BIN, LocalRegistry, free_port

pytestmark = [pytest.mark.root, pytest.mark.skipif(not REGISTRY_BIN.exists(), reason="docker-registry missing")]

if os.geteuid() != 0:
    pytest.skip("needs root (layers keep owners)", allow_module_level=True)

HOST = plat.host()
LAYER = TarBuilder().dir("etc").file("etc/os-release", b"ID=mirrored\n").bytes()


class Messages(Progress):
    def __init__(self):
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    with LocalRegistry(tmp_path / "mirror") as reg:
        layout = OciLayout(tmp_path / "layout")
        platform = tuple(p for p in (HOST.os, HOST.architecture, HOST.variant) if p)
        layout.image([LAYER], platform=platform, tag="t")
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout.root}:t",
                        f"docker://{reg.host}/hub/library/tiny:1"], check=True, capture_output=True)
        yield reg


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    return ImageStore()


def configure(tmp_path, monkeypatch, text: str) -> None:
    path = tmp_path / "registries.conf"
    path.write_text(text)
    monkeypatch.setenv("STACKUP_REGISTRIES_CONF", str(path))


def test_docker_hub_name_is_pulled_from_the_mirror_and_stored_under_its_own_name(
        tmp_path, monkeypatch, mirror, store):
    configure(tmp_path, monkeypatch, f"""
[[registry]]
prefix = "docker.io"
mirror-only = true
[[registry.mirror]]
location = "{mirror.host}/hub"
insecure = true
""")
    progress = Messages()
    image = pull(store, "tiny:1", progress=progress)
    assert image.references == ["docker.io/library/tiny:1"]
    assert image.repo_digests[0].startswith("docker.io/library/tiny@sha256:")
    assert store.resolve("docker.io/library/tiny:1").id == image.id
    (layer,) = image.layer_dirs()
    assert (layer / "etc/os-release").read_bytes() == b"ID=mirrored\n"
    assert f"Pulling tiny:1 from mirror {mirror.host}" in progress.lines


def test_a_dead_mirror_is_skipped_for_the_next(tmp_path, monkeypatch, mirror, store):
    dead = f"127.0.0.1:{free_port()}"
    configure(tmp_path, monkeypatch, f"""
[[registry]]
prefix = "docker.io/library"
mirror-only = true
[[registry.mirror]]
location = "{dead}"
[[registry.mirror]]
location = "{mirror.host}/hub/library"
""")
    progress = Messages()
    image = pull(store, "docker.io/library/tiny:1", progress=progress)
    assert image.references == ["docker.io/library/tiny:1"]
    assert any(line.startswith(f"mirror {dead} failed") for line in progress.lines)


def test_mirror_only_without_the_image_fails_and_stores_nothing(tmp_path, monkeypatch, mirror, store):
    configure(tmp_path, monkeypatch, f"""
[[registry]]
prefix = "docker.io"
mirror-only = true
[[registry.mirror]]
location = "{mirror.host}/hub"
""")
    with pytest.raises(NotFoundError, match="hub/library/absent"):
        pull(store, "absent:1")
    assert store.list() == [] and list(store.blobs.digests()) == []
