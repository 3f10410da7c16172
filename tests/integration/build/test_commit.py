"""A build step's overlay upper becomes a layer: Docker's tar form, deterministic, moved not copied."""

import gzip
import io
import os
import stat
import tarfile

import pytest

from stackup.engine.build.commit import commit
from stackup.engine.build.snapshot import mounted, scratch_dir
from stackup.engine.images import digest as dg
from stackup.engine.images.errors import ImageError
from stackup.engine.images.store import ImageStore
from stackup.engine.images.unpack import unpack_tar
from stackup.testing.trees import signature

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (mknod, chown, trusted xattrs, mounts)", allow_module_level=True)

MTIME = 1_600_000_000
CAP = b"\x01\x00\x00\x02\x00\x20\x00\x00" + b"\x00" * 12  # cap_net_bind_service+ep


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    return ImageStore()


def overlay_upper(path):
    """An upper folder as overlay leaves one, with every kind of entry."""
    path.mkdir(parents=True)
    (path / "etc").mkdir(mode=0o750)
    os.chown(path / "etc", 5, 6)
    (path / "etc/conf").write_bytes(b"hello")
    os.chown(path / "etc/conf", 1000, 100)
    os.chmod(path / "etc/conf", 0o640)
    os.link(path / "etc/conf", path / "etc/conf-link")
    (path / "bin").mkdir()
    (path / "bin/ping").write_bytes(b"\x7fELF")
    os.chmod(path / "bin/ping", 0o4755)
    os.setxattr(path / "bin/ping", "security.capability", CAP)
    os.setxattr(path / "bin/ping", "user.note", b"\xff\x00bin")
    os.setxattr(path / "bin/ping", "trusted.overlay.origin", b"\x00fh")
    os.symlink("../etc/conf", path / "bin/conf")
    long_dir = path / ("d" * 80) / ("e" * 80)
    long_dir.mkdir(parents=True)
    (long_dir / ("f" * 90)).write_bytes(b"long")
    (path / "dev").mkdir()
    os.mknod(path / "dev/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(path / "dev/sda", stat.S_IFBLK | 0o660, os.makedev(8, 0))
    os.mkfifo(path / "dev/fifo", 0o600)
    os.mknod(path / "etc/removed", stat.S_IFCHR | 0o000, os.makedev(0, 0))  # a whiteout
    (path / "var").mkdir()
    os.setxattr(path / "var", "trusted.overlay.opaque", b"y")
    (path / "var/only").write_bytes(b"only")
    (path / "big").write_bytes(bytes(range(256)) * (3 << 12) + b"tail")
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME), follow_symlinks=False)
    return path


def members(store, ref):
    with store.blobs.open(ref.blob) as f:
        data = gzip.decompress(f.read())
    assert dg.of_bytes(data) == ref.diff_id
    return data, tarfile.open(fileobj=io.BytesIO(data)).getmembers()


def test_the_layer_is_the_upper_in_docker_form_and_unpacks_to_the_same_tree(tmp_path, store):
    upper = overlay_upper(tmp_path / "upper")
    expected = signature(upper)
    ref = commit(store, upper, None)
    assert ref is not None and ref.chain_id == ref.diff_id
    assert not upper.exists()  # moved, not copied
    diff = store.layers.path(ref.chain_id)
    assert store.layers.meta(ref.chain_id)["diff_id"] == ref.diff_id
    assert signature(diff) == expected
    data, entries = members(store, ref)
    names = [m.name for m in entries]
    walked = [n.replace(".wh.", "") for n in names if not n.endswith(".wh..wh..opq")]
    assert walked == sorted(walked, key=lambda n: n.split("/")), "a folder first, then its contents, sorted"
    by_name = {m.name: m for m in entries}
    assert by_name["etc/.wh.removed"].isreg() and by_name["etc/.wh.removed"].size == 0
    assert names.index("var/.wh..wh..opq") == names.index("var") + 1
    assert by_name["etc/conf-link"].islnk() and by_name["etc/conf-link"].linkname == "etc/conf"
    ping = by_name["bin/ping"]
    assert ping.pax_headers["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape") == CAP
    assert not any("trusted.overlay" in k for m in entries for k in m.pax_headers)
    assert (ping.mode, by_name["etc/conf"].uid, by_name["etc"].gid) == (0o4755, 1000, 6)
    assert all(m.mtime == MTIME and m.uname == m.gname == "" for m in entries if not m.name.endswith(".opq"))
    assert "trusted.overlay.origin" not in os.listxattr(diff / "bin/ping")
    assert os.getxattr(diff / "var", "trusted.overlay.opaque") == b"y"
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    unpack_tar(io.BytesIO(data), unpacked)
    assert signature(unpacked) == expected


def test_the_same_tree_gives_the_same_diff_id_and_blob(tmp_path, store):
    first = commit(store, overlay_upper(tmp_path / "one"), None)
    other = ImageStore(tmp_path / "other-store")
    second = commit(other, overlay_upper(tmp_path / "two"), None)
    assert first == second
    os.utime(tmp_path, None)
    changed = overlay_upper(tmp_path / "three")
    os.utime(changed / "etc/conf", (MTIME + 1, MTIME + 1))
    assert commit(ImageStore(tmp_path / "third-store"), changed, None).diff_id != first.diff_id


def test_the_chain_is_on_top_of_the_parent_and_a_known_layer_is_not_stored_twice(tmp_path, store):
    base = commit(store, overlay_upper(tmp_path / "base"), None)
    (tmp_path / "up").mkdir()
    (tmp_path / "up/x").write_text("x")
    ref = commit(store, tmp_path / "up", base.chain_id)
    assert ref.chain_id == dg.chain_ids([base.diff_id, ref.diff_id])[1]
    assert store.layers.meta(ref.chain_id)["parent"] == base.chain_id
    again = overlay_upper(tmp_path / "again")
    assert commit(store, again, None) == base
    assert not again.exists()
    assert sorted(store.layers.chain_ids()) == sorted([base.chain_id, ref.chain_id])


def test_an_empty_upper_is_no_layer(tmp_path, store):
    (tmp_path / "empty").mkdir()
    assert commit(store, tmp_path / "empty", None) is None
    assert not (tmp_path / "empty").exists()


def test_a_redirected_folder_is_refused(tmp_path, store):
    upper = tmp_path / "upper"
    (upper / "moved").mkdir(parents=True)
    os.setxattr(upper / "moved", "trusted.overlay.redirect", b"/old")
    with pytest.raises(ImageError, match="/moved.*redirect_dir"):
        commit(store, upper, None)
    assert store.layers.chain_ids() == [] and list(store.blobs.digests()) == []


def test_a_real_step_deletions_and_a_recreated_folder(tmp_path, store):
    """Over a committed base: a file deleted, a folder deleted and made again, one added."""
    base_upper = tmp_path / "base"
    (base_upper / "app/old").mkdir(parents=True)
    (base_upper / "app/old/a").write_text("a")
    (base_upper / "app/keep").write_text("k")
    (base_upper / "rmme").write_text("r")
    base = commit(store, base_upper, None)
    layers = [store.layers.path(base.chain_id)]
    with scratch_dir(tmp_path / "root/build/tmp") as scratch:
        with mounted(layers, scratch) as view:
            (view.root / "rmme").unlink()
            (view.root / "app/old/a").unlink()
            (view.root / "app/old").rmdir()
            (view.root / "app/old").mkdir()
            (view.root / "app/old/b").write_text("b")
        ref = commit(store, view.upper, base.chain_id)
        layers.append(store.layers.path(ref.chain_id))
        _, entries = members(store, ref)
        names = {m.name for m in entries}
        assert {".wh.rmme", "app/old/.wh..wh..opq", "app/old/b"} <= names
        assert "app/keep" not in names
    with scratch_dir(tmp_path / "root/build/tmp") as scratch, mounted(layers, scratch, False) as view:
        assert sorted(os.listdir(view.root)) == ["app"]
        assert os.listdir(view.root / "app/old") == ["b"]
        assert (view.root / "app/keep").read_text() == "k"


def test_gc_keeps_what_is_pinned_and_drops_it_once_unpinned(tmp_path, store):
    kept = commit(store, overlay_upper(tmp_path / "kept"), None)
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose/x").write_text("x")
    loose = commit(store, tmp_path / "loose", None)
    store.pin("build-cache", "step-1", [kept.blob], [kept.chain_id])
    assert store.pins("build-cache") == {"step-1": {"blobs": [kept.blob], "chains": [kept.chain_id]}}
    store.gc()
    assert store.blobs.has(kept.blob) and store.layers.has(kept.chain_id)
    assert not store.blobs.has(loose.blob) and not store.layers.has(loose.chain_id)
    store.unpin("build-cache", "step-1")
    assert store.pins("build-cache") == {}
    store.gc()
    assert not store.blobs.has(kept.blob) and not store.layers.has(kept.chain_id)
