"""Pure rules of COPY flags and of the layer tar (no root, no mounts)."""

import io
import os
import tarfile

import pytest

from stackup.engine.build.commit import tar_chunks
from stackup.engine.build.copy import is_archive, parse_chmod, resolve_owner
from stackup.errors import UserError


@pytest.mark.parametrize("text,mode", [("755", 0o755), ("0644", 0o644), ("4755", 0o4755), ("0", 0)])
def test_chmod_is_octal(text, mode):
    assert parse_chmod(text) == mode


@pytest.mark.parametrize("text", ["u+x", "9", "78", "17777", "", "-1"])
def test_chmod_refuses_what_is_not_an_octal_mode(text):
    with pytest.raises(UserError, match="--chmod"):
        parse_chmod(text)


@pytest.fixture
def etc(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nweb:x:33:34::/var/www:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nweb:x:34:\nlog:x:4:\n")
    return tmp_path


@pytest.mark.parametrize("chown,ids", [
    ("web", (33, 34)), ("web:log", (33, 4)), ("33", (33, 33)), ("10:20", (10, 20)), ("web:7", (33, 7)),
    ("0:log", (0, 4)),
])
def test_chown_names_come_from_the_destination_root(etc, chown, ids):
    assert resolve_owner(etc, chown) == ids


@pytest.mark.parametrize("chown,message", [("ghost", "user ghost"), ("web:ghosts", "group ghosts"),
                                           (":log", "a user is needed")])
def test_unknown_names_are_one_line_errors(etc, chown, message):
    with pytest.raises(UserError, match=message):
        resolve_owner(etc, chown)


def test_chown_names_without_a_passwd_file(tmp_path):
    assert resolve_owner(tmp_path, "5:6") == (5, 6)
    with pytest.raises(UserError, match="no matching entries in passwd file"):
        resolve_owner(tmp_path, "app")


def test_an_archive_is_known_by_its_content_not_its_name(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("f"), io.BytesIO(b""))
    (tmp_path / "data.bin").write_bytes(buf.getvalue())
    (tmp_path / "fake.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    (tmp_path / "empty.tar").write_bytes(b"")
    assert is_archive(tmp_path / "data.bin")
    assert not is_archive(tmp_path / "fake.tar.gz") and not is_archive(tmp_path / "empty.tar")


def test_the_layer_tar_is_sorted_and_reads_back(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b/z").write_bytes(b"z" * 1000)
    (tmp_path / "a").write_bytes(b"a")
    os.symlink("a", tmp_path / "c")
    os.link(tmp_path / "a", tmp_path / "b/a-again")
    (tmp_path / ("long" * 40)).write_bytes(b"")
    data = b"".join(tar_chunks(tmp_path))
    assert data == b"".join(tar_chunks(tmp_path)), "the same tree, the same bytes"
    members = tarfile.open(fileobj=io.BytesIO(data)).getmembers()
    assert [m.name for m in members] == ["a", "b", "b/a-again", "b/z", "c", "long" * 40]
    by = {m.name: m for m in members}
    assert by["b/a-again"].islnk() and by["b/a-again"].linkname == "a"
    assert by["c"].issym() and by["b"].isdir() and by["b/z"].size == 1000
    assert data.endswith(b"\0" * 1024) and len(data) % 512 == 0
