"""The engine adapter's translation of a service into a runtime spec, over a
recording runtime and a fixed image (the real volumes module, in a temporary root)."""

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stackup.engine.images.config import ImageConfig
from stackup.engine.runtime.containerstate import ContainerState, Status
from stackup.errors import NotFoundError
from stackup.project import naming
from stackup.project.containerspec import NETWORK_EXTRAS
from stackup.project.engine_adapter import ANONYMOUS, ANONYMOUS_VOLUMES, Engine
from stackup.project.plan import ContainerRequest

pytest.importorskip("stackup.engine.runtime.spec")


@dataclass
class FakeImage:
    layer: Path
    id: str = "sha256:" + "1" * 64
    config: ImageConfig = field(default_factory=lambda: ImageConfig(
        cmd=["sh"], env=["PATH=/bin", "FROM_IMAGE=1"], labels={"image.label": "x"},
        healthcheck={"Test": ["CMD", "true"], "Interval": 5_000_000_000, "Retries": 7}))

    def layer_dirs(self):
        return [self.layer]


class FakeStore:
    def __init__(self, image):
        self.image = image

    def resolve(self, ref):
        if ref != "busybox":
            raise NotFoundError(f"no such image: {ref}")
        return self.image


class RecordingRuntime:
    def __init__(self):
        self.created = []

    def create(self, spec, name=None, files=()):
        self.created.append((spec, name))
        self.files = list(files)
        return ContainerState(id="c" * 64, name=name, status=Status.CREATED)


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    layer = tmp_path / "layer"
    (layer / "www").mkdir(parents=True)
    (layer / "www" / "index.html").write_text("from the image\n")
    desired = {"networks": {"default": {"name": "p_default"}}, "volumes": {"site": {"name": "p_site"}}}
    e = Engine("p", desired)
    e._runtime = RecordingRuntime()
    e._store = FakeStore(FakeImage(layer))
    return e


def request(config, service="web", number=1):
    labels = naming.container_labels("p", service, number, config, config_hash="h")
    return ContainerRequest("p", service, number, f"p-{service}-{number}", config.get("image", "busybox"),
                            config, labels)


def test_service_becomes_a_runtime_spec(engine, tmp_path):
    config = {"image": "busybox", "command": ["httpd", "-f"], "environment": {"A": "1"},
              "labels": {"user.label": "u"}, "healthcheck": {"interval": "1s"},
              "networks": {"default": None},
              "ports": [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}],
              "volumes": [{"type": "volume", "source": "site", "target": "/www", "volume": {}},
                          {"type": "volume", "target": "/cache"}],
              "tmpfs": ["/run"]}
    assert engine.create_container(request(config)) == "c" * 64
    spec, name = engine._runtime.created[0]
    assert name == "p-web-1"
    assert spec.argv == ["httpd", "-f"]
    assert "A=1" in spec.env and "FROM_IMAGE=1" in spec.env
    assert spec.labels[naming.PROJECT] == "p" and spec.labels[naming.SERVICE] == "web"
    assert spec.labels[naming.IMAGE] == "sha256:" + "1" * 64
    assert spec.labels["user.label"] == "u" and spec.labels["image.label"] == "x"
    assert json.loads(spec.labels[NETWORK_EXTRAS])["ports"] == [{"target": 80, "published": "8080", "protocol": "tcp"}]
    assert spec.network_mode == "bridge" and list(spec.networks) == ["p_default"]
    # the service's interval over the image's check
    assert spec.healthcheck == {"Test": ["CMD", "true"], "Interval": 1_000_000_000, "Retries": 7}
    mounts = {m.target: m for m in spec.mounts}
    site = tmp_path / "root" / "volumes" / "p_site" / "_data"
    assert mounts["/www"].type == "bind" and Path(mounts["/www"].source) == site
    assert (site / "index.html").read_text() == "from the image\n"      # filled from the image
    assert mounts["/run"].type == "tmpfs"
    anonymous = spec.labels[ANONYMOUS_VOLUMES]
    meta = json.loads((tmp_path / "root" / "volumes" / anonymous / "meta.json").read_text())
    assert meta["labels"][naming.PROJECT] == "p" and meta["labels"][ANONYMOUS] == "True"
    assert Path(mounts["/cache"].source) == tmp_path / "root" / "volumes" / anonymous / "_data"


def test_observed_container_from_runtime_state():
    state = {"id": "a" * 64, "name": "p-web-1", "status": "starting", "created_at": "2026-01-01T00:00:00Z",
             "exit_code": None, "spec": {"labels": {naming.PROJECT: "p", naming.SERVICE: "web",
                                                    naming.NUMBER: "2"}, "image_id": "sha256:x"}}
    c = Engine.observed(ContainerState.from_dict(state))
    assert (c.status, c.service, c.number, c.image_id, c.created) == ("running", "web", 2, "sha256:x", 1767225600.0)


def test_missing_image_names_the_service(engine):
    with pytest.raises(NotFoundError, match="services.web: image nosuch is not present"):
        engine.create_container(request({"image": "nosuch"}))


def test_image_volumes_become_labelled_anonymous_volumes(engine, tmp_path):
    image = engine._store.image
    image.config.volumes = ["/www", "/var/lib/db", "/run"]
    config = {"image": "busybox", "networks": {"default": None},
              "volumes": [{"type": "bind", "source": str(tmp_path), "target": "/var/lib/db"}],
              "tmpfs": ["/run:size=1m"]}
    engine.create_container(request(config))
    spec, _ = engine._runtime.created[0]
    mounts = {m.target: m for m in spec.mounts}
    # /var/lib/db and /run are the service's own mounts; /www gets an anonymous volume
    assert Path(mounts["/var/lib/db"].source) == tmp_path and mounts["/run"].type == "tmpfs"
    made = spec.labels[ANONYMOUS_VOLUMES].split(",")
    assert len(made) == 1
    assert Path(mounts["/www"].source) == tmp_path / "root" / "volumes" / made[0] / "_data"
    assert (Path(mounts["/www"].source) / "index.html").read_text() == "from the image\n"
    meta = json.loads((tmp_path / "root" / "volumes" / made[0] / "meta.json").read_text())
    assert meta["labels"][naming.PROJECT] == "p" and meta["labels"][ANONYMOUS] == "True"


def test_anonymous_volumes_go_when_a_mount_is_refused(engine, tmp_path):
    engine._store.image.config.volumes = ["/www"]
    config = {"image": "busybox", "volumes": [{"type": "bind", "source": "relative", "target": "/x"}]}
    with pytest.raises(Exception, match="absolute host path"):
        engine.create_container(request(config))
    assert not [p for p in (tmp_path / "root" / "volumes").iterdir() if p.is_dir()]


def test_a_recreate_hands_on_the_old_anonymous_volumes_by_path(engine, tmp_path):
    from stackup.project import anonymous

    engine._store.image.config.volumes = ["/www"]
    config = {"image": "busybox", "volumes": [{"type": "volume", "target": "/data"}]}
    engine.create_container(request(config))
    old_spec, _ = engine._runtime.created[0]
    old = anonymous.mounts_of(old_spec.labels)
    assert sorted(old) == ["/data", "/www"]
    assert sorted(old_spec.labels[ANONYMOUS_VOLUMES].split(",")) == sorted(old.values())
    (tmp_path / "root" / "volumes" / old["/data"] / "_data" / "note").write_text("mine\n")
    # the new container: /data and /www take the old volumes; /extra is new
    new_config = dict(config, volumes=config["volumes"] + [{"type": "volume", "target": "/extra"}])
    engine.create_container(dataclasses.replace(request(new_config), anonymous_volumes=old))
    new_spec, _ = engine._runtime.created[1]
    mounts = {m.target: m for m in new_spec.mounts}
    assert (Path(mounts["/data"].source) / "note").read_text() == "mine\n"
    new = anonymous.mounts_of(new_spec.labels)
    assert {t: new[t] for t in old} == old and new["/extra"] not in old.values()


def test_a_failed_create_keeps_the_handed_on_volumes(engine, tmp_path):
    from stackup.project import anonymous

    engine._store.image.config.volumes = ["/www"]
    engine.create_container(request({"image": "busybox"}))
    old = anonymous.mounts_of(engine._runtime.created[0][0].labels)

    def refuse(spec, name=None, files=()):
        raise RuntimeError("no")

    engine._runtime.create = refuse
    config = {"image": "busybox", "volumes": [{"type": "volume", "target": "/data"}]}
    with pytest.raises(RuntimeError):
        engine.create_container(dataclasses.replace(request(config), anonymous_volumes=old))
    left = {p.name for p in (tmp_path / "root" / "volumes").iterdir() if p.is_dir()}
    assert left == set(old.values())      # the handed-on one stays, the fresh /data one went


def test_image_volumes_are_read_from_the_image_image_id_found(engine):
    engine._store.image.config.volumes = ["www", "/var/lib/db/"]
    assert engine.image_id("busybox") == engine._store.image.id
    assert engine.image_volumes("busybox") == ["/var/lib/db", "/www"]
    assert engine.image_id("nosuch") is None and engine.image_volumes("nosuch") == []


@pytest.mark.parametrize("config, line", [
    ({"driver": "overlay"}, "networks.back.driver (overlay)"),
    ({"ipam": {"driver": "dhcp"}}, "networks.back.ipam.driver (dhcp)"),
])
def test_a_network_the_engine_cannot_make_is_refused_by_the_table(config, line):
    """Whoever planned it: the adapter asks the table of supported attributes too."""
    from stackup.errors import UnsupportedError
    from stackup.project.plan import NetworkRequest

    with pytest.raises(UnsupportedError, match="^" + re.escape(f"{line} is not supported by stackup")):
        Engine("p").create_network(NetworkRequest("p", "back", "p_back", config, {}))
