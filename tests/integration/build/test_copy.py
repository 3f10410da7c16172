"""COPY and ADD with Docker's rules, into a folder and into a real step view."""

import gzip
import hashlib
import http.server
import io
import os
import stat
import tarfile
import threading
from email.utils import formatdate

import pytest

from stackup.engine.build.copy import CopyError, copy_in, download
from stackup.engine.build.snapshot import mounted, scratch_dir
from stackup.errors import UserError

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (chown, mknod, mounts)", allow_module_level=True)

MTIME = 1_500_000_000


@pytest.fixture
def ctx(tmp_path):
    """A build context: files of a user, a folder, a symlink, a hardlink, a socket-free tree."""
    c = tmp_path / "ctx"
    (c / "app/sub").mkdir(parents=True)
    (c / "app/main.py").write_text("print()")
    (c / "app/sub/data.txt").write_text("data")
    os.chmod(c / "app/main.py", 0o755)
    os.chmod(c / "app/sub", 0o750)
    os.symlink("main.py", c / "app/link")
    os.link(c / "app/sub/data.txt", c / "app/sub/hard.txt")
    os.setxattr(c / "app/main.py", "user.tag", b"v")
    (c / "one.txt").write_text("one")
    (c / "two.txt").write_text("two")
    os.symlink("one.txt", c / "named-link")
    for dirpath, dirnames, filenames in os.walk(c):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            os.lchown(p, 1234, 5678)
            os.utime(p, (MTIME, MTIME), follow_symlinks=False)
    return c


@pytest.fixture
def root(tmp_path):
    """An image root with users and the merged-/usr symlinks."""
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "usr/bin").mkdir(parents=True)
    os.symlink("usr/bin", r / "bin")
    os.symlink("/", r / "loop")
    (r / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
    (r / "etc/group").write_text("root:x:0:\napp:x:1001:\nstaff:x:50:\n")
    return r


def owner(p):
    st = os.lstat(p)
    return st.st_uid, st.st_gid


def mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_a_folder_copies_its_contents_with_modes_mtimes_links_and_owners_reset(ctx, root):
    copy_in(ctx, [("app", True)], root, "/srv/app")
    d = root / "srv/app"
    assert sorted(os.listdir(d)) == ["link", "main.py", "sub"]
    assert (mode(root / "srv"), owner(root / "srv")) == (0o755, (0, 0))  # made on the way
    assert (mode(d), owner(d)) == (0o755, (0, 0))  # the destination itself: made, not the source's
    assert mode(d / "main.py") == 0o755 and mode(d / "sub") == 0o750
    assert owner(d / "main.py") == owner(d / "sub") == owner(d / "link") == (0, 0)
    assert int(os.lstat(d / "main.py").st_mtime) == MTIME and int(os.lstat(d / "sub").st_mtime) == MTIME
    assert os.readlink(d / "link") == "main.py"
    assert os.lstat(d / "sub/hard.txt").st_ino == os.lstat(d / "sub/data.txt").st_ino
    assert os.getxattr(d / "main.py", "user.tag") == b"v"


def test_keep_owners_for_copy_from_and_chown_chmod(ctx, root):
    copy_in(ctx, [("app", True)], root, "/kept/", keep_owners=True)
    assert owner(root / "kept/main.py") == (1234, 5678) and owner(root / "kept") == (0, 0)
    copy_in(ctx, [("app", True)], root, "/owned/deep/", chown="app", chmod="640")
    d = root / "owned/deep"
    assert owner(d / "main.py") == owner(d / "sub") == (1000, 1001)
    assert owner(root / "owned") == owner(d) == (1000, 1001), "made folders belong to --chown's user"
    assert mode(d / "main.py") == mode(d / "sub/data.txt") == mode(d / "sub") == 0o640
    assert mode(d) == 0o755
    copy_in(ctx, [("one.txt", False)], root, "/x", chown="app:staff")
    assert owner(root / "x") == (1000, 50)
    copy_in(ctx, [("one.txt", False)], root, "/y", chown="7")
    assert owner(root / "y") == (7, 7)
    with pytest.raises(UserError, match="unable to find user nobody"):
        copy_in(ctx, [("one.txt", False)], root, "/z", chown="nobody")
    with pytest.raises(UserError, match="--chmod=9"):
        copy_in(ctx, [("one.txt", False)], root, "/z", chmod="9")


def test_destination_forms(ctx, root):
    copy_in(ctx, [("one.txt", False)], root, "/file")  # no slash: the file's new name
    assert (root / "file").read_text() == "one"
    copy_in(ctx, [("one.txt", False)], root, "/dir/")  # a slash: into the folder
    assert (root / "dir/one.txt").read_text() == "one"
    copy_in(ctx, [("two.txt", False)], root, "/dir")  # an existing folder: inside it
    assert (root / "dir/two.txt").read_text() == "two"
    copy_in(ctx, [("one.txt", False), ("two.txt", False)], root, "rel/", workdir="/work")
    assert sorted(os.listdir(root / "work/rel")) == ["one.txt", "two.txt"]
    copy_in(ctx, [("two.txt", False)], root, ".", workdir="/work")
    assert (root / "work/two.txt").read_text() == "two"
    with pytest.raises(UserError, match="must be a directory and end with a /"):
        copy_in(ctx, [("one.txt", False), ("two.txt", False)], root, "/new")
    copy_in(ctx, [("two.txt", False)], root, "/file")  # replaces a file
    assert (root / "file").read_text() == "two"
    copy_in(ctx, [("named-link", False)], root, "/followed")  # a named symlink is followed
    assert (root / "followed").read_text() == "one" and not os.path.islink(root / "followed")
    with pytest.raises(UserError, match="missing"):
        copy_in(ctx, [("missing", False)], root, "/")


def test_the_images_symlinks_are_followed_inside_the_root_never_to_the_host(ctx, root, tmp_path):
    copy_in(ctx, [("one.txt", False)], root, "/bin/")
    assert (root / "usr/bin/one.txt").read_text() == "one"
    copy_in(ctx, [("two.txt", False)], root, "/loop/etc/")  # /loop -> / : the root's /
    assert (root / "etc/two.txt").read_text() == "two"
    os.symlink("/../../../../../../../../tmp", root / "escape")
    copy_in(ctx, [("one.txt", False)], root, "/escape/hostfile")
    assert (root / "tmp/hostfile").exists() and not os.path.exists("/tmp/hostfile")
    # a symlink at the target is replaced, not written through
    (root / "app").mkdir()
    os.symlink("/etc/passwd", root / "app/one.txt")
    copy_in(ctx, [("one.txt", False)], root, "/app/")
    assert not os.path.islink(root / "app/one.txt") and "app:x" in (root / "etc/passwd").read_text()


def test_parents_and_exclude(ctx, root):
    copy_in(ctx, [("app/sub/data.txt", False), ("one.txt", False)], root, "/p/", parents=True)
    assert (root / "p/app/sub/data.txt").read_text() == "data" and (root / "p/one.txt").exists()
    assert mode(root / "p/app/sub") == 0o750  # the source's folders, as they are there
    copy_in(ctx, [("app", True)], root, "/e/", excluded=lambda source, rel: rel.endswith(".txt"))
    assert sorted(os.listdir(root / "e/sub")) == [] and (root / "e/main.py").exists()


def test_special_files_are_copied(tmp_path, root):
    src = tmp_path / "src"
    src.mkdir()
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chmod(src / "null", 0o666)
    os.mkfifo(src / "fifo", 0o640)
    copy_in(tmp_path, [("src", True)], root, "/dev/")
    st = os.lstat(root / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and mode(root / "dev/null") == 0o666
    assert stat.S_ISFIFO(os.lstat(root / "dev/fifo").st_mode) and mode(root / "dev/fifo") == 0o640


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid, info.gid, info.mode = len(data), MTIME, 33, 44, 0o604
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("suffix,pack", [
    ("tar", lambda b: b), ("tar.gz", gzip.compress),
    ("tar.bz2", lambda b: __import__("bz2").compress(b)),
    ("tar.xz", lambda b: __import__("lzma").compress(b)),
    ("tar.zst", lambda b: __import__("zstandard").ZstdCompressor().compress(b)),
])
def test_add_extracts_archives(tmp_path, root, suffix, pack):
    (tmp_path / "c").mkdir()
    (tmp_path / f"c/a.{suffix}").write_bytes(pack(tar_bytes([("x/y.txt", b"y"), ("x/.wh.z", b"")])))
    copy_in(tmp_path / "c", [(f"a.{suffix}", False)], root, "/opt", unpack_archives=True, what="ADD")
    assert (root / "opt/x/y.txt").read_bytes() == b"y"
    assert (root / "opt/x/.wh.z").is_file()  # an ordinary file for ADD
    assert owner(root / "opt/x/y.txt") == (33, 44) and mode(root / "opt/x/y.txt") == 0o604


def test_add_copies_what_is_not_an_archive_and_refuses_escapes(tmp_path, root):
    (tmp_path / "c").mkdir()
    (tmp_path / "c/notes.tar").write_bytes(b"not a tar at all")
    copy_in(tmp_path / "c", [("notes.tar", False)], root, "/n/", unpack_archives=True, what="ADD")
    assert (root / "n/notes.tar").read_bytes() == b"not a tar at all"
    (tmp_path / "c/evil.tar").write_bytes(tar_bytes([("../../evil", b"x")]))
    with pytest.raises(UserError, match="escape"):
        copy_in(tmp_path / "c", [("evil.tar", False)], root, "/n/", unpack_archives=True, what="ADD")
    (tmp_path / "c/abs.tar").write_bytes(tar_bytes([("/etc/abs", b"x")]))
    copy_in(tmp_path / "c", [("abs.tar", False)], root, "/n/", unpack_archives=True, what="ADD")
    assert (root / "n/etc/abs").exists()


def test_copy_into_a_mounted_step_view(ctx, tmp_path, monkeypatch, root):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "sroot"))
    with scratch_dir() as scratch:
        with mounted([root], scratch) as view:
            copy_in(ctx, [("app", True)], view.root, "/bin/app/", chown="app")
            assert (view.root / "usr/bin/app/main.py").exists()
        assert (view.upper / "usr/bin/app/main.py").exists()
        assert not (root / "usr/bin/app").exists()


class _Handler(http.server.BaseHTTPRequestHandler):
    files = {"/dl/tool.bin": b"binary-data", "/": b"index"}

    def do_GET(self):
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Last-Modified", formatdate(MTIME, usegmt=True))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_names_the_file_keeps_last_modified_and_checks_the_checksum(server, tmp_path):
    good = "sha256:" + hashlib.sha256(b"binary-data").hexdigest()
    path = download(f"{server}/dl/tool.bin", tmp_path, checksum=good)
    assert path == tmp_path / "tool.bin" and path.read_bytes() == b"binary-data"
    assert mode(path) == 0o600 and int(os.stat(path).st_mtime) == MTIME
    assert download(f"{server}/", tmp_path).name == "index"
    with pytest.raises(CopyError, match="checksum mismatch"):
        download(f"{server}/dl/tool.bin", tmp_path, checksum="sha256:" + "0" * 64, name="bad")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(CopyError, match="404"):
        download(f"{server}/nope", tmp_path)
    with pytest.raises(UserError, match="--checksum"):
        download(f"{server}/dl/tool.bin", tmp_path, checksum="md5:abc")
