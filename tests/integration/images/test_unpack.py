"""Layers unpack with every kind of entry intact, and malicious layers are refused."""

import io
import os
import stat

import pytest

from stackup.engine.images import digest as dg
from stackup.engine.images.errors import DigestMismatchError, ImageError, UnsafeLayerError
from stackup.engine.images.layers import LayerStore
from stackup.engine.images.unpack import unpack_tar
from stackup.testing.layers import TarBuilder, gzip_bytes, zstd_bytes

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (mknod, chown)", allow_module_level=True)


def unpack(tmp_path, data: bytes):
    dest = tmp_path / "dest"
    dest.mkdir()
    unpack_tar(io.BytesIO(data), dest)
    return dest


def test_every_entry_kind_and_its_metadata_is_kept(tmp_path):
    data = (TarBuilder(mtime=1_500_000_000)
            .dir("etc", mode=0o750, uid=5, gid=6)
            .file("etc/conf", b"hello", mode=0o640, uid=1000, gid=100, xattrs={"user.note": b"\x00\xffbin"})
            .file("bin/su", b"#!", mode=0o4755)
            .symlink("etc/abs", "/etc/passwd").symlink("up", "../../../../outside")
            .hardlink("etc/conf2", "etc/conf")
            .device("dev/null", "chr", 1, 3).device("dev/sda", "blk", 8, 0).device("dev/fifo", "fifo")
            .bytes())
    d = unpack(tmp_path, data)
    st = os.lstat(d / "etc/conf")
    assert (d / "etc/conf").read_bytes() == b"hello"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)) == (0o640, 1000, 100, 1_500_000_000)
    assert os.getxattr(d / "etc/conf", "user.note") == b"\x00\xffbin"
    assert os.lstat(d / "etc/conf2").st_ino == st.st_ino and st.st_nlink == 2
    etc = os.lstat(d / "etc")
    assert (stat.S_IMODE(etc.st_mode), etc.st_uid, etc.st_gid, int(etc.st_mtime)) == (0o750, 5, 6, 1_500_000_000)
    assert stat.S_IMODE(os.lstat(d / "bin/su").st_mode) == 0o4755
    assert os.readlink(d / "etc/abs") == "/etc/passwd" and os.readlink(d / "up") == "../../../../outside"
    assert int(os.lstat(d / "etc/abs").st_mtime) == 1_500_000_000
    null = os.lstat(d / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    assert stat.S_ISBLK(os.lstat(d / "dev/sda").st_mode)
    assert stat.S_ISFIFO(os.lstat(d / "dev/fifo").st_mode)


def test_owners_and_modes_come_out_exact_whatever_the_umask_and_setgid_dirs(tmp_path):
    """Files are made with their permission bits and keep them when nothing changed them
    on the way: these are the cases where something does."""
    data = (TarBuilder()
            .dir("shared", mode=0o2775, gid=7)                   # new files inherit gid 7
            .file("shared/roots", b"r", mode=0o644)               # ... but this one is root's
            .file("shared/sevens", b"s", mode=0o644, gid=7)
            .file("open", b"o", mode=0o777)                       # the umask takes 0o022 away
            .file("sgid", b"g", mode=0o2755)                      # set-id bits only via chmod
            .file("none", b"n", mode=0o000)
            .file("plain", b"p", mode=0o644)
            .bytes())
    old = os.umask(0o022)
    try:
        d = unpack(tmp_path, data)
    finally:
        os.umask(old)

    def owner_mode(name):
        st = os.lstat(d / name)
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)
    assert owner_mode("shared") == (0, 7, 0o2775)
    assert owner_mode("shared/roots") == (0, 0, 0o644)
    assert owner_mode("shared/sevens") == (0, 7, 0o644)
    assert owner_mode("open") == (0, 0, 0o777)
    assert owner_mode("sgid") == (0, 0, 0o2755)
    assert owner_mode("none") == (0, 0, 0o000) and (d / "none").read_bytes() == b"n"
    assert owner_mode("plain") == (0, 0, 0o644)


def test_whiteouts_become_overlayfs_whiteouts(tmp_path):
    data = TarBuilder().dir("a").whiteout("a/gone").opaque("b").whiteout("top").bytes()
    d = unpack(tmp_path, data)
    for path in (d / "a/gone", d / "top"):
        st = os.lstat(path)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(d / "b", "trusted.overlay.opaque") == b"y"
    assert not any(name.startswith(".wh.") for _, dirs, files in os.walk(d) for name in dirs + files)


def test_later_entries_replace_earlier_ones(tmp_path):
    data = (TarBuilder().file("x", b"1").file("x", b"2").symlink("l", "/").dir("l")
            .file("l/inside", b"ok").dir("d").file("d/f").file("d", b"now a file").bytes())
    d = unpack(tmp_path, data)
    assert (d / "x").read_bytes() == b"2"
    assert (d / "l").is_dir() and not (d / "l").is_symlink() and (d / "l/inside").read_bytes() == b"ok"
    assert (d / "d").read_bytes() == b"now a file"


@pytest.fixture
def host(tmp_path):
    """A host directory beside the layer; nothing may appear in it or change."""
    h = tmp_path / "host"
    h.mkdir()
    (h / "sentinel").write_text("untouched")
    yield h
    assert sorted(os.listdir(h)) == ["sentinel"]
    assert (h / "sentinel").read_text() == "untouched"


MALICIOUS = {
    "dotdot": lambda h: TarBuilder().file("../host/evil", b"x"),
    "dotdot inside": lambda h: TarBuilder().dir("a").file("a/../../host/evil", b"x"),
    "absolute": lambda h: TarBuilder().file(f"{h}/evil", b"x"),
    "through absolute symlink": lambda h: TarBuilder().symlink("lnk", str(h)).file("lnk/evil", b"x"),
    "through relative symlink": lambda h: TarBuilder().symlink("lnk", "../host").file("lnk/evil", b"x"),
    "through nested symlink": lambda h: TarBuilder().dir("a").symlink("a/b", str(h)).file("a/b/c/evil"),
    "symlink then dir under it": lambda h: TarBuilder().symlink("lnk", str(h)).dir("lnk/sub"),
    "hardlink out dotdot": lambda h: TarBuilder().hardlink("evil", "../host/sentinel"),
    "hardlink out absolute": lambda h: TarBuilder().hardlink("evil", f"{h}/sentinel"),
    "hardlink through symlink": lambda h: TarBuilder().symlink("lnk", str(h)).hardlink("evil", "lnk/sentinel"),
    "hardlink to missing": lambda h: TarBuilder().hardlink("evil", "nothing"),
    "hardlink to dir": lambda h: TarBuilder().dir("d").hardlink("evil", "d"),
    "whiteout through symlink": lambda h: TarBuilder().symlink("lnk", str(h)).whiteout("lnk/sentinel"),
    "opaque through symlink": lambda h: TarBuilder().symlink("lnk", str(h)).opaque("lnk"),
    "empty whiteout": lambda h: TarBuilder().file(".wh.", b""),
    "aufs hardlink whiteout": lambda h: TarBuilder().file(".wh..wh.plnk", b""),
    "dotdot whiteout": lambda h: TarBuilder().file("a/.wh...", b""),
    "overlay xattr": lambda h: TarBuilder().dir("d", xattrs={"trusted.overlay.opaque": b"y"}),
    "file as parent": lambda h: TarBuilder().file("f").file("f/g"),
    "root as file": lambda h: TarBuilder().file(".", b"x"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_layers_are_rejected_and_host_untouched(tmp_path, host, case):
    data = MALICIOUS[case](host).bytes()
    with pytest.raises(UnsafeLayerError):
        unpack(tmp_path, data)


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_layer_store_leaves_nothing_of_a_rejected_layer(tmp_path, host, case):
    data = MALICIOUS[case](host).bytes()
    blob = tmp_path / "blob"
    blob.write_bytes(data)
    layers = LayerStore(tmp_path / "layers")
    diff_id = dg.of_bytes(data)
    with pytest.raises(UnsafeLayerError):
        layers.unpack(blob, diff_id, diff_id, None)
    assert os.listdir(tmp_path / "layers") == []


@pytest.mark.parametrize("compress", [lambda b: b, gzip_bytes, zstd_bytes], ids=["tar", "gzip", "zstd"])
def test_layer_store_unpacks_every_compression_and_checks_diff_id(tmp_path, compress):
    data = TarBuilder().file("hello", b"world").bytes()
    blob = tmp_path / "blob"
    blob.write_bytes(compress(data))
    layers = LayerStore(tmp_path / "layers")
    diff_id = dg.of_bytes(data)
    assert layers.unpack(blob, diff_id, diff_id, None)
    assert (layers.path(diff_id) / "hello").read_bytes() == b"world"
    assert layers.meta(diff_id)["size"] == len(data)
    assert not layers.unpack(blob, diff_id, diff_id, None)  # already there: not unpacked twice
    wrong = dg.of_bytes(b"something else")
    with pytest.raises(DigestMismatchError):
        layers.unpack(blob, wrong, wrong, None)
    assert not layers.has(wrong) and sorted(os.listdir(tmp_path / "layers")) == [dg.hex_of(diff_id)]


@pytest.mark.parametrize("damage", ["truncated tar", "truncated gzip", "garbage gzip", "not a tar"])
def test_corrupt_layers_are_clear_errors_and_leave_nothing(tmp_path, damage):
    data = TarBuilder().file("big", os.urandom(200_000)).file("after", b"x").bytes()
    blob_bytes = {
        "truncated tar": data[:100_000],
        "truncated gzip": gzip_bytes(data)[:50_000],
        "garbage gzip": gzip_bytes(data)[:20] + b"\x00" * 1000,
        "not a tar": b"hello, this is not a tar archive" * 40,
    }[damage]
    blob = tmp_path / "blob"
    blob.write_bytes(blob_bytes)
    layers = LayerStore(tmp_path / "layers")
    diff_id = dg.of_bytes(data)
    with pytest.raises(ImageError) as info:
        layers.unpack(blob, diff_id, diff_id, None)
    assert "\n" not in str(info.value)
    assert os.listdir(tmp_path / "layers") == []


def test_verified_plain_blob_is_copied_by_the_kernel_with_metadata(tmp_path):
    data = (TarBuilder(mtime=1_234_567_890).file("big", os.urandom(3_000_000), mode=0o600, uid=9)
            .file("small", b"s").hardlink("big2", "big").symlink("l", "big").bytes())
    blob = tmp_path / "blob"
    blob.write_bytes(data)
    layers = LayerStore(tmp_path / "layers")
    diff_id = dg.of_bytes(data)
    assert layers.unpack(blob, diff_id, diff_id, None, blob_digest=diff_id)
    d = layers.path(diff_id)
    reference = unpack(tmp_path, data)  # the streaming path
    from stackup.testing.trees import signature
    assert signature(d) == signature(reference)
    assert layers.meta(diff_id)["size"] == len(data)


def test_verified_plain_blob_that_is_cut_short_is_refused(tmp_path):
    data = TarBuilder().file("big", os.urandom(300_000)).bytes()[:150_000]
    blob = tmp_path / "blob"
    blob.write_bytes(data)
    layers = LayerStore(tmp_path / "layers")
    digest = dg.of_bytes(data)
    with pytest.raises(ImageError):
        layers.unpack(blob, digest, digest, None, blob_digest=digest)
    assert os.listdir(tmp_path / "layers") == []


@pytest.mark.parametrize("data", [b"", b"\0" * 1024, TarBuilder().bytes()], ids=["zero bytes", "end blocks", "empty tar"])
def test_empty_layers_unpack_to_empty_directories(tmp_path, data):
    for compress in (lambda b: b, gzip_bytes):
        blob = tmp_path / "blob"
        blob.write_bytes(compress(data))
        layers = LayerStore(tmp_path / "layers")
        diff_id = dg.of_bytes(data)
        layers.unpack(blob, diff_id, diff_id, None, blob_digest=dg.of_bytes(compress(data)))
        assert os.listdir(layers.path(diff_id)) == []
        layers.delete(diff_id)
