"""Volumes without root: specs, named volume directories, copy-up, in-use, subpath."""

import os

import pytest

from stackup.engine import volumes
from stackup.errors import ConflictError, NotFoundError, UnsupportedError, UserError


def test_short_syntax_strings_are_read_strictly(root):
    """A string is read by the one short-syntax parser, refusing unknown options as `docker run -v` does."""
    m = volumes.resolve_mounts(["data:/var/lib/data:ro,nocopy"])[0]
    assert (m.volume, m.target, m.read_only) == ("data", "/var/lib/data", True)
    with pytest.raises(UserError, match="unknown option 'bogus'"):
        volumes.resolve_mounts(["data:/d:bogus"])


def test_named_volume_created_on_first_use_and_shared(root):
    m1 = volumes.resolve_mounts(["data:/data"], container_id="c1")[0]
    assert m1.type == "bind" and m1.volume == "data" and "rbind" in m1.options
    (root / "root/volumes/data/_data/file").write_text("hello")
    m2 = volumes.resolve_mounts([{"type": "volume", "source": "data", "target": "/x", "read_only": True}],
                                container_id="c2")[0]
    assert m2.source == m1.source and m2.read_only and "ro" in m2.options
    assert sorted(volumes.get_volume("data")["in_use_by"]) == ["c1", "c2"]


def test_volume_in_use_needs_force(root):
    volumes.create_volume("keep", labels={"a": "b"})
    volumes.resolve_mounts(["keep:/k"], container_id="c1")
    with pytest.raises(ConflictError, match="in use"):
        volumes.remove_volume("keep")
    volumes.release("c1")
    volumes.remove_volume("keep")
    with pytest.raises(NotFoundError):
        volumes.get_volume("keep")


def test_force_removes_a_volume_in_use(root):
    volumes.resolve_mounts(["vv:/k"], container_id="c1")
    volumes.remove_volume("vv", force=True)
    assert not (root / "root/volumes/vv").exists()


def test_registered_provider_decides_in_use(root):
    volumes.create_volume("v2")
    volumes.register_in_use(lambda name: ["abc"] if name == "v2" else [])
    with pytest.raises(ConflictError):
        volumes.remove_volume("v2")


def test_copy_up_fills_an_empty_volume_only(root):
    image = root / "image"
    (image / "etc/app").mkdir(parents=True)
    (image / "etc/app/conf").write_text("from image")
    os.chmod(image / "etc/app", 0o750)
    m = volumes.resolve_mounts(["conf:/etc/app"], image_root=image)[0]
    assert open(os.path.join(m.source, "conf")).read() == "from image"
    assert os.stat(m.source).st_mode & 0o777 == 0o750
    (image / "etc/app/conf").write_text("changed")
    volumes.resolve_mounts(["conf:/etc/app"], image_root=image)
    assert open(os.path.join(m.source, "conf")).read() == "from image"


def test_nocopy(root):
    image = root / "image"
    (image / "data").mkdir(parents=True)
    (image / "data/x").write_text("x")
    m = volumes.resolve_mounts(["nc:/data:nocopy"], image_root=image)[0]
    assert os.listdir(m.source) == []


def test_bind_short_creates_missing_path_long_does_not(root):
    src = root / "made/here"
    volumes.resolve_mounts([f"{src}:/x"])
    assert src.is_dir()
    with pytest.raises(NotFoundError, match="create_host_path"):
        volumes.resolve_mounts([{"type": "bind", "source": str(root / "missing"), "target": "/y"}])
    m = volumes.resolve_mounts([{"type": "bind", "source": str(root / "m2"), "target": "/y",
                                 "bind": {"create_host_path": True, "propagation": "rshared"}}])[0]
    assert (root / "m2").is_dir() and "rshared" in m.options


def test_relative_bind_source_is_refused():
    with pytest.raises(UserError, match="absolute host path"):
        volumes.resolve_mounts(["./data:/data"])


def test_subpath_inside_the_volume_only(root):
    volumes.create_volume("sp")
    (root / "root/volumes/sp/_data/sub").mkdir()
    m = volumes.resolve_mounts([{"type": "volume", "source": "sp", "target": "/s",
                                 "volume": {"subpath": "sub"}}])[0]
    assert m.source.endswith("/sp/_data/sub")
    with pytest.raises(UserError, match="leaves the volume"):
        volumes.resolve_mounts([{"type": "volume", "source": "sp", "target": "/s",
                                 "volume": {"subpath": "../../"}}])
    with pytest.raises(NotFoundError):
        volumes.resolve_mounts([{"type": "volume", "source": "sp", "target": "/s",
                                 "volume": {"subpath": "nope"}}])


def test_tmpfs_size_and_mode():
    m = volumes.resolve_mounts([{"type": "tmpfs", "target": "/t", "tmpfs": {"size": "64m", "mode": "700"}}],
                               tmpfs=["/run:size=1k,mode=1777,noexec"])
    assert m[0].type == "tmpfs" and "size=67108864" in m[0].options and "mode=700" in m[0].options
    assert "size=1024" in m[1].options and "mode=1777" in m[1].options and "noexec" in m[1].options


@pytest.mark.parametrize("spec,error", [
    ({"type": "tmpfs", "target": "/t", "tmpfs": {"size": "lots"}}, UserError),
    ({"type": "tmpfs", "target": "/t", "tmpfs": {"mode": "999"}}, UserError),
    ({"type": "npipe", "target": "/t"}, UnsupportedError),
    ({"type": "volume", "source": "v", "target": "relative"}, UserError),
    ({"type": "volume", "source": "bad/name", "target": "/t"}, UserError),
])
def test_bad_mounts(spec, error):
    with pytest.raises(error):
        volumes.resolve_mounts([spec])


def test_nothing_is_created_when_a_later_spec_is_bad(root):
    with pytest.raises(UserError):
        volumes.resolve_mounts(["first:/a", {"type": "bind", "source": "rel", "target": "/b"}])
    assert volumes.list_volumes() == []


def test_anonymous_volumes_and_prune(root):
    anon = volumes.resolve_mounts(["/cache"])[0].volume
    volumes.create_volume("named", labels={"keep": "no"})
    assert volumes.prune_volumes() == [anon]
    assert volumes.prune_volumes(all_volumes=True, label_filters={"keep": "yes"}) == []
    assert volumes.prune_volumes(all_volumes=True) == ["named"]


def test_unsupported_driver():
    with pytest.raises(UnsupportedError, match="driver"):
        volumes.create_volume("x1", driver="nfs")


def test_mounts_in_the_runtimes_shape(root):
    tmp, vol = volumes.resolve_mounts(["data:/d:ro"], tmpfs=["/run:size=1m,mode=755"])[::-1]
    assert tmp.as_runtime() == {"type": "tmpfs", "target": "/run", "source": "", "read_only": False,
                                "options": {"size": 1048576, "mode": "755"}}
    assert vol.as_runtime() == {"type": "bind", "target": "/d", "source": vol.source, "read_only": True,
                                "options": {"propagation": "rprivate"}}


def test_mount_flag_syntax(root):
    assert volumes.parse_mount_flag("type=bind,src=/a,dst=/b,readonly") == {
        "type": "bind", "source": "/a", "target": "/b", "read_only": True,
        "bind": {"create_host_path": False}}
    assert volumes.parse_mount_flag("type=volume,source=v1,target=/d,volume-subpath=x,volume-nocopy")[
        "volume"] == {"nocopy": True, "subpath": "x"}
    tmp = volumes.parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=700")
    assert volumes.resolve_mounts([tmp])[0].options[-2:] == ["size=1048576", "mode=700"]
    with pytest.raises(UserError, match="unknown field"):
        volumes.parse_mount_flag("type=bind,colour=red")
