"""The local store: import, names, shared layers, removal with the in-use hook, pruning."""

import gzip
import json
import os
import subprocess
import sys

import pytest

from stackup.engine.images import digest as dg
from stackup.engine.images import mediatypes as mt
from stackup.engine.images.errors import ImageError, UnsafeLayerError
from stackup.engine.images.store import ImageStore
from stackup.errors import ConflictError, NotFoundError, UserError
from stackup.testing.images import busybox_image
from stackup.testing.layers import TarBuilder, gzip_bytes
from stackup.testing.rootfs import BUSYBOX

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (chown, mknod)", allow_module_level=True)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    return ImageStore()


def layered(store, layers: list[bytes], ref: str):
    """An image made of the given (uncompressed) layer tars, stored gzip-compressed."""
    blobs, diff_ids = [], []
    for data in layers:
        gz = gzip_bytes(data)
        blobs.append((store.blobs.put_bytes(gz), len(gz), mt.OCI_LAYER_GZIP))
        diff_ids.append(dg.of_bytes(data))
    doc = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    with store.adding():
        return store.write_image(doc, blobs, [ref])


def test_default_root_is_under_stackup_root(store, tmp_path):
    assert store.root == tmp_path / "root" / "images"


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static missing")
def test_busybox_import_resolves_every_way(store):
    image = busybox_image(store, changes=['CMD ["sh"]', "ENV A=1", "WORKDIR /w", "EXPOSE 80"])
    assert image.references == ["stackup.local/busybox:latest"]
    assert image.config.cmd == ["sh"] and image.config.env == ["A=1"] and image.config.working_dir == "/w"
    assert image.config.exposed_ports == ["80/tcp"]
    (layer,) = image.layer_dirs()
    assert os.readlink(layer / "bin/sh") == "busybox" and (layer / "bin/busybox").stat().st_size > 0
    for ref in ("stackup.local/busybox", "stackup.local/busybox:latest", image.id,
                image.id[7:19], image.id[:15], f"stackup.local/busybox@{image.manifest_digest}"):
        assert store.resolve(ref).id == image.id
    assert [im.id for im in store.list()] == [image.id]
    config = store.config_document(image)
    assert config["rootfs"]["diff_ids"] == image.diff_ids and config["os"] == "linux"


def test_unknown_and_malformed_names(store):
    with pytest.raises(NotFoundError):
        store.resolve("nothing:here")
    with pytest.raises(NotFoundError):
        store.resolve("sha256:" + "0" * 64)
    with pytest.raises(UserError):
        store.resolve("Bad Name")


def test_images_share_base_layers_and_layers_go_with_last_user(store):
    base = TarBuilder().file("base", b"b").bytes()
    one = layered(store, [base, TarBuilder().file("one", b"1").bytes()], "x/one")
    two = layered(store, [base, TarBuilder().whiteout("base").bytes()], "x/two")
    assert one.layer_dirs()[0] == two.layer_dirs()[0]
    assert len(store.layers.chain_ids()) == 3
    store.rm("x/one")
    assert len(store.layers.chain_ids()) == 2 and two.layer_dirs()[0].is_dir()
    store.rm("x/two")
    assert store.layers.chain_ids() == [] and list(store.blobs.digests()) == []


def test_tag_moves_names_and_rm_untags_first(store):
    a = layered(store, [TarBuilder().file("a").bytes()], "x/a")
    b = layered(store, [TarBuilder().file("b").bytes()], "x/b")
    store.tag("x/a", "x/b:latest")  # moves the name: b is now dangling
    assert store.resolve("x/b").id == a.id
    assert store.get(b.id).references == []
    assert store.rm("x/b") == ["Untagged: docker.io/x/b:latest"]
    assert store.resolve("x/a").id == a.id
    with pytest.raises(UserError):
        store.tag("x/a", "x/a@sha256:" + "1" * 64)


def test_rm_by_id_with_two_names_needs_force(store):
    a = layered(store, [TarBuilder().file("a").bytes()], "x/a")
    store.tag("x/a", "x/a:v2")
    with pytest.raises(ConflictError):
        store.rm(a.short_id)
    lines = store.rm(a.short_id, force=True)
    assert lines[-1] == f"Deleted: {a.id}" and len([x for x in lines if x.startswith("Untagged")]) == 2
    assert store.list() == []


def test_image_in_use_is_kept_unless_forced_and_then_only_untagged(store):
    a = layered(store, [TarBuilder().file("a").bytes()], "x/a")
    users = lambda image: ["web-1"] if image.id == a.id else []  # noqa: E731
    with pytest.raises(ConflictError, match="web-1"):
        store.rm("x/a", in_use=users)
    assert store.resolve("x/a").id == a.id
    assert store.rm("x/a", force=True, in_use=users) == ["Untagged: docker.io/x/a:latest"]
    kept = store.get(a.id)  # the container keeps its layers
    assert kept.references == [] and kept.layer_dirs()[0].is_dir()
    lines, _ = store.prune(in_use=users)
    assert lines == [] and store.get(a.id)
    lines, freed = store.prune()
    assert lines == [f"Deleted: {a.id}"] and freed > 0 and store.layers.chain_ids() == []


def test_prune_all_removes_unused_named_images(store):
    layered(store, [TarBuilder().file("a").bytes()], "x/a")
    b = layered(store, [TarBuilder().file("b").bytes()], "x/b")
    assert store.prune()[0] == []
    lines, _ = store.prune(all_images=True, in_use=lambda im: ["c"] if im.id == b.id else [])
    assert "Untagged: docker.io/x/a:latest" in lines
    assert [im.id for im in store.list()] == [b.id]


def test_malicious_rootfs_import_leaves_no_image(store, tmp_path):
    tar = tmp_path / "evil.tar"
    tar.write_bytes(TarBuilder().file("../evil", b"x").bytes())
    with pytest.raises(UnsafeLayerError):
        store.import_rootfs(tar, "evil")
    assert store.list() == [] and store.layers.chain_ids() == [] and list(store.blobs.digests()) == []


def test_gzip_rootfs_import(store, tmp_path):
    tar = tmp_path / "r.tar.gz"
    tar.write_bytes(gzip_bytes(TarBuilder().file("etc/os-release", b"ID=test").bytes()))
    image = store.import_rootfs(tar, "gz:1", ["CMD cat /etc/os-release"])
    assert (image.layer_dirs()[0] / "etc/os-release").read_bytes() == b"ID=test"
    assert image.config.cmd == ["/bin/sh", "-c", "cat /etc/os-release"]
    manifest = store.manifest(image)
    assert manifest["mediaType"] == mt.OCI_MANIFEST and manifest["config"]["digest"] == image.id
    assert json.loads(store.blobs.read(image.id))["rootfs"]["diff_ids"] == image.diff_ids


def test_import_stores_its_layer_gzip_compressed(store, tmp_path):
    data = TarBuilder().file("etc/os-release", b"ID=test\n" * 5000).file("bin/x", b"y").bytes()
    tar = tmp_path / "r.tar"
    tar.write_bytes(data)
    image = store.import_rootfs(tar, "plain:1")
    (layer,) = store.manifest(image)["layers"]
    blob = store.blobs.read(layer["digest"])
    assert layer["mediaType"] == mt.OCI_LAYER_GZIP and layer["size"] == len(blob) < len(data)
    assert gzip.decompress(blob) == data and image.diff_ids == [dg.of_bytes(data)]
    # The same rootfs again: the same blob (no name or time in the gzip header).
    again = store.import_rootfs(tar, "plain:2")
    assert store.manifest(again)["layers"][0]["digest"] == layer["digest"]


def test_import_of_missing_file_is_not_found(store, tmp_path):
    with pytest.raises(NotFoundError):
        store.import_rootfs(tmp_path / "nope.tar", "x")


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static missing")
def test_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2500k", "stackup-test-full", str(small)], check=True)
    try:
        store = ImageStore(small / "images")
        with pytest.raises(ImageError, match="No space left on device"):
            busybox_image(store)  # the gzip blob (1 MB) fits, blob + unpacked layer (2 MB) do not
        assert store.list() == [] and store.layers.chain_ids() == []
        leftovers = [p for p in small.rglob("*") if p.is_file() and p.name not in ("gc.lock", "index.lock")]
        assert leftovers == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_layers_stack_under_overlayfs_with_deletions_applied(store, tmp_path):
    base = (TarBuilder().dir("etc").file("etc/keep", b"k").file("etc/gone", b"g")
            .dir("cache").file("cache/old1").file("cache/old2").bytes())
    top = TarBuilder().whiteout("etc/gone").opaque("cache").file("cache/new", b"n").file("etc/keep", b"K").bytes()
    image = layered(store, [base, top], "x/overlay")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lower = ":".join(str(d) for d in reversed(image.layer_dirs()))  # overlayfs wants the top first
    subprocess.run(["mount", "-t", "overlay", "stackup-test-overlay", "-o", f"lowerdir={lower}", str(mnt)],
                   check=True)
    try:
        assert sorted(os.listdir(mnt / "etc")) == ["keep"] and (mnt / "etc/keep").read_bytes() == b"K"
        assert os.listdir(mnt / "cache") == ["new"]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_concurrent_imports_share_one_layer_and_keep_the_index_whole(store, tmp_path):
    tar = tmp_path / "r.tar"
    tar.write_bytes(TarBuilder().file("etc/a", os.urandom(2_000_000)).file("etc/b", b"b").bytes())
    script = ("import sys; from pathlib import Path; from stackup.engine.images.store import ImageStore; "
              "ImageStore(Path(sys.argv[1])).import_rootfs(Path(sys.argv[2]), sys.argv[3])")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(store.root), str(tar), f"x/c{i}"])
             for i in range(4)]
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    images = store.list()
    assert sorted(r for im in images for r in im.references) == [f"docker.io/x/c{i}:latest" for i in range(4)]
    assert len({tuple(im.chain_ids) for im in images}) == 1 and len(store.layers.chain_ids()) == 1
    assert not [e for e in os.listdir(store.layers.root) if e.startswith(".")]


def test_layer_batch_installs_together_or_leaves_nothing(store, tmp_path):
    from stackup.engine.images.layers import LayerBatch
    blobs = []
    for name in ("a", "b"):
        data = TarBuilder().file(f"{name}.txt", name.encode() * 100).bytes()
        path = tmp_path / f"{name}.tar"
        path.write_bytes(data)
        blobs.append((path, dg.of_bytes(data)))
    with LayerBatch(store.layers) as batch:
        for path, diff_id in blobs:
            assert store.layers.unpack(path, diff_id, diff_id, None, blob_digest=diff_id, batch=batch)
        assert store.layers.chain_ids() == []  # nothing under a real name before install
    assert store.layers.chain_ids() == [] and os.listdir(store.layers.root) == []  # discarded
    with LayerBatch(store.layers) as batch:
        for path, diff_id in blobs:
            store.layers.unpack(path, diff_id, diff_id, None, blob_digest=diff_id, batch=batch)
        assert batch.install() == 2
    assert sorted(store.layers.chain_ids()) == sorted(d for _, d in blobs)
    assert all(store.layers.has(d) and store.layers.meta(d)["diff_id"] == d for _, d in blobs)
    assert (store.layers.path(blobs[0][1]) / "a.txt").read_bytes() == b"a" * 100


def test_multi_member_gzip_layer_unpacks_exactly(store, tmp_path):
    """Layers gzip-compressed in several members (as eStargz and parallel gzip write them)."""
    import random
    rng = random.Random(5)
    data = TarBuilder().file("big", rng.randbytes(300_000)).file("text", b"line\n" * 50_000).bytes()
    cut = len(data) // 3
    blob = tmp_path / "layer.tar.gz"
    blob.write_bytes(gzip_bytes(data[:cut]) + gzip_bytes(data[cut:]))
    diff_id = dg.of_bytes(data)
    assert store.layers.unpack(blob, diff_id, diff_id, None, blob_digest=dg.of_bytes(blob.read_bytes()))
    assert (store.layers.path(diff_id) / "text").read_bytes() == b"line\n" * 50_000


def test_layers_directory_spreads_layers_over_block_groups(store, tmp_path):
    """On ext4 the layers directory carries the `T` attribute (each layer directory made in
    it is the top of its own hierarchy); elsewhere the hint is silently left out."""
    import fcntl
    import struct

    from stackup.engine.images.diskio import FS_IOC_GETFLAGS, FS_TOPDIR_FL, mark_hierarchy_top
    data = TarBuilder().file("a", b"a").bytes()
    (tmp_path / "a.tar").write_bytes(data)
    store.layers.unpack(tmp_path / "a.tar", dg.of_bytes(data), dg.of_bytes(data), None)
    fstype = subprocess.run(["stat", "-f", "-c", "%T", str(store.layers.root)],
                            capture_output=True, text=True, check=True).stdout.strip()
    fd = os.open(store.layers.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0]
    except OSError:
        flags = None
    finally:
        os.close(fd)
    if fstype.startswith("ext"):
        assert flags is not None and flags & FS_TOPDIR_FL
    mark_hierarchy_top(tmp_path / "missing")  # never an error: only a hint
