from __future__ import annotations

from stackup.project import naming
from stackup.project.observed import ObservedContainer, observe

from tests.unit.project import _project_stacks as st
from tests.unit.project._fake_engine import FakeContainer, FakeEngine


def test_observe_reads_labelled_objects_named_resources_and_images():
    desired = st.webdemo()
    desired["networks"]["outside"] = {"name": "outside", "ipam": {}, "external": True}
    engine = FakeEngine(images={st.BUSYBOX: st.BUSYBOX_ID})
    engine.networks = {"webdemo_default": naming.network_labels("webdemo", "default"),
                       "outside": {}, "unrelated": {}, "other_default": naming.network_labels("other", "default")}
    engine.volumes = {"webdemo_site": naming.volume_labels("webdemo", "site"), "stray": {}}
    mine = naming.container_labels("webdemo", "web", 1, desired["services"]["web"], config_hash="h")
    theirs = naming.container_labels("other", "web", 1, desired["services"]["web"], config_hash="h")
    engine.containers = {"c1": FakeContainer("c1", "webdemo-web-1", "running", mine, "i", 1.0),
                         "c2": FakeContainer("c2", "other-web-1", "running", theirs, "i", 2.0)}
    snapshot = observe(engine, "webdemo", desired)
    assert [c.name for c in snapshot.containers] == ["webdemo-web-1"]
    assert [n.name for n in snapshot.networks] == ["outside", "webdemo_default"]
    assert [v.name for v in snapshot.volumes] == ["webdemo_site"]
    assert snapshot.images == {st.BUSYBOX: st.BUSYBOX_ID}
    assert snapshot.network("outside", "outside").labels == {}
    assert snapshot.network("default", "webdemo_default").key == "default"
    assert snapshot.volume("site", "webdemo_site").project == "webdemo"
    assert snapshot.network("back", "webdemo_back") is None


def test_observe_reads_the_volume_paths_of_present_images():
    desired = st.anonvol()
    desired["services"]["other"] = dict(desired["services"]["db"], image="absent")
    engine = FakeEngine(images={st.DB_IMAGE: st.DB_IMAGE_ID},
                        image_volume_paths={st.DB_IMAGE: ["var/lib/db/", "/img"], "absent": ["/x"]})
    snapshot = observe(engine, "anon", desired)
    assert snapshot.image_volumes == {st.DB_IMAGE: ("/img", "/var/lib/db")}
    assert snapshot.volumes_of_image("absent") == ()
    assert observe(engine, "anon", desired, images_too=False).image_volumes == {}


def test_observe_without_a_stack_reads_labels_only():
    engine = FakeEngine(images={"x": "sha256:1"})
    engine.networks = {"p_default": naming.network_labels("p", "default"), "outside": {}}
    snapshot = observe(engine, "p")
    assert [n.name for n in snapshot.networks] == ["p_default"] and snapshot.images == {}


def test_container_properties_come_from_labels():
    labels = naming.container_labels("p", "web", 3, {"depends_on": {"db": {"condition": "service_healthy"}}},
                                     config_hash="h", oneoff=True)
    labels[naming.IMAGE] = "sha256:img"
    c = ObservedContainer("id", "p-web-run-1", "paused", labels, image_id="sha256:other")
    assert (c.project, c.service, c.number, c.oneoff, c.config_hash, c.image_label) == \
        ("p", "web", 3, True, "h", "sha256:img")
    assert c.depends_on == {"db": {"condition": "service_healthy", "restart": False}}
    assert c.running
    bare = ObservedContainer("id", "x", "exited", {naming.NUMBER: "junk"}, image_id="sha256:other")
    assert bare.number == 0 and bare.image_label == "sha256:other" and not bare.running and not bare.oneoff


def test_snapshot_orphans_and_service_containers():
    d = st.webdemo()
    snap = st.with_containers(
        st.deployed(d, scale={"web": 3}),
        st.container(d, "web", 1, status="exited", oneoff=True, name="webdemo-web-run-aaaaaaaaaaaa"),
        st.container(d, "web", 1, status="running", oneoff=True, name="webdemo-web-run-bbbbbbbbbbbb"))
    assert [c.name for c in snap.service_containers("web")] == ["webdemo-web-1", "webdemo-web-2", "webdemo-web-3"]
    assert [c.name for c in snap.orphans(["backend"])] == [
        "webdemo-web-1", "webdemo-web-2", "webdemo-web-3", "webdemo-web-run-aaaaaaaaaaaa"]
    assert [c.name for c in snap.orphans(["backend", "web"])] == ["webdemo-web-run-aaaaaaaaaaaa"]
    assert len(snap.oneoffs()) == 2
