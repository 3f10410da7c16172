"""`image save` / `image load`: docker save and OCI layout archives, checked with skopeo."""

import io
import json
import os
import subprocess
import tarfile

import pytest

from stackup.engine.images import digest as dg
from stackup.engine.images import platform as plat
from stackup.engine.images.archive import load, save
from stackup.engine.images.errors import UnsafeLayerError
from stackup.engine.images.store import ImageStore
from stackup.errors import NotFoundError, UserError
from stackup.testing.images import busybox_image
from stackup.testing.layers import TarBuilder, gzip_bytes
from stackup.testing.oci import OciLayout
from stackup.testing.rootfs import BUSYBOX
from stackup.testing.trees import signature

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (layers keep owners and devices)", allow_module_level=True)

HOST = plat.host()
BASE = TarBuilder().dir("etc").file("etc/a", b"a", uid=7).symlink("etc/l", "a").device("null", "chr", 1, 3).bytes()
TOP = TarBuilder().whiteout("etc/a").file("etc/b", b"b").bytes()


def new_store(tmp_path, name):
    return ImageStore(tmp_path / name)


def layered(store, ref):
    layout_blobs = []
    diff_ids = []
    for data in (BASE, TOP):
        gz = gzip_bytes(data)
        layout_blobs.append((store.blobs.put_bytes(gz), len(gz), "application/vnd.oci.image.layer.v1.tar+gzip"))
        diff_ids.append(dg.of_bytes(data))
    doc = {"architecture": HOST.architecture, "os": "linux", "config": {"Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    return store.write_image(doc, layout_blobs, [ref])


def skopeo(*args):
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static missing")
def test_save_then_load_round_trip_and_skopeo_reads_both_forms(tmp_path):
    src = new_store(tmp_path, "src")
    bb = busybox_image(src, "stackup.local/busybox:1")
    multi = layered(src, "example.com/team/multi:2")
    archive = tmp_path / "images.tar"
    with open(archive, "wb") as out:
        save(src, ["stackup.local/busybox:1", "example.com/team/multi:2"], out)
    dst = new_store(tmp_path, "dst")
    loaded = load(dst, archive)
    assert [item.names for item in loaded] == [["stackup.local/busybox:1"], ["example.com/team/multi:2"]]
    for original in (bb, multi):
        copy = dst.resolve(original.references[0])
        assert copy.id == original.id and copy.manifest_digest == original.manifest_digest
        assert [signature(d) for d in copy.layer_dirs()] == [signature(d) for d in original.layer_dirs()]
    # skopeo reads it as a docker save archive and as an OCI layout, with the same manifests.
    inspected = json.loads(skopeo("inspect", "--raw", f"oci-archive:{archive}:2"))
    assert inspected == src.manifest(multi)
    config = json.loads(skopeo("inspect", "--config", f"docker-archive:{archive}:example.com/team/multi:2"))
    assert config["rootfs"]["diff_ids"] == multi.diff_ids
    skopeo("copy", "-q", f"docker-archive:{archive}:stackup.local/busybox:1", f"dir:{tmp_path / 'bbdir'}")


def test_load_docker_archive_written_by_skopeo(tmp_path):
    layout = OciLayout(tmp_path / "oci")
    layout.image([BASE, TOP], tag="t", config={"Cmd": ["/bin/true"], "Env": ["X=1"]})
    archive = tmp_path / "docker.tar"
    skopeo("copy", "-q", f"oci:{layout.root}:t", f"docker-archive:{archive}:example.com/app:3")
    store = new_store(tmp_path, "s")
    (item,) = load(store, archive)
    assert item.names == ["example.com/app:3"]
    image = store.resolve("example.com/app:3")
    assert image.config.cmd == ["/bin/true"] and image.config.env == ["X=1"]
    top = image.layer_dirs()[1]
    assert os.lstat(top / "etc/a").st_rdev == os.makedev(0, 0) and (top / "etc/b").read_bytes() == b"b"


def test_load_oci_archive_with_index_picks_host_platform(tmp_path):
    layout = OciLayout(tmp_path / "oci")
    other = ("linux", "arm64", "v8") if HOST.architecture != "arm64" else ("linux", "amd64")
    mine = layout.image([BASE], platform=(HOST.os, HOST.architecture))
    theirs = layout.image([TarBuilder().file("other").bytes()], platform=other)
    index = layout.index([theirs, layout.attestation(theirs), mine], tag="multi")
    entries = json.loads((layout.root / "index.json").read_text())
    entries["manifests"][0]["annotations"]["io.containerd.image.name"] = "docker.io/library/multi:1"
    (layout.root / "index.json").write_text(json.dumps(entries))
    archive = tmp_path / "oci.tar"
    with tarfile.open(archive, "w") as tar:
        for child in sorted(layout.root.iterdir()):
            tar.add(child, arcname=child.name)
    store = new_store(tmp_path, "s")
    (item,) = load(store, archive)
    assert item.names == ["docker.io/library/multi:1"]
    assert item.image.manifest_digest == mine["digest"]
    assert store.blobs.has(index["digest"])  # the index is kept with the image
    assert os.listdir(item.image.layer_dirs()[0]) != ["other"]


def test_load_of_a_tag_only_oci_name_gives_an_unnamed_image(tmp_path):
    layout = OciLayout(tmp_path / "oci")
    layout.image([BASE], tag="latest")
    archive = tmp_path / "oci.tar"
    with tarfile.open(archive, "w") as tar:
        for child in sorted(layout.root.iterdir()):
            tar.add(child, arcname=child.name)
    (item,) = load(new_store(tmp_path, "s"), archive)
    assert item.names == [] and item.image.references == []


def test_malicious_layer_in_archive_leaves_nothing(tmp_path):
    layout = OciLayout(tmp_path / "oci")
    layout.image([TarBuilder().file("../../escape", b"x").bytes()], tag="evil")
    archive = tmp_path / "evil.tar"
    skopeo("copy", "-q", f"oci:{layout.root}:evil", f"docker-archive:{archive}:evil:1")
    store = new_store(tmp_path, "s")
    with pytest.raises(UnsafeLayerError):
        load(store, archive)
    assert store.list() == [] and store.layers.chain_ids() == []
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("content, message", [
    (b"not a tar at all" * 100, "not an image archive"),
    (None, "neither a docker save archive"),
])
def test_bad_archives_are_user_errors(tmp_path, content, message):
    path = tmp_path / "bad.tar"
    if content is None:
        with tarfile.open(path, "w") as tar:
            info = tarfile.TarInfo("hello.txt")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    else:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        load(new_store(tmp_path, "s"), path)


def test_save_of_unknown_image_is_not_found(tmp_path):
    with pytest.raises(NotFoundError):
        save(new_store(tmp_path, "s"), ["nothing"], io.BytesIO())
