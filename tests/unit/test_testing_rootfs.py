"""The busybox root filesystem that tests build their images from."""

import os
import tarfile

import pytest

from stackup.testing import rootfs

pytestmark = pytest.mark.skipif(not rootfs.BUSYBOX.exists(), reason="busybox-static missing")


def test_rootfs_has_shell_applets_and_users(tmp_path):
    root = rootfs.make_busybox_rootfs(tmp_path / "r")
    assert os.readlink(root / "bin" / "sh") == "busybox"
    assert (root / "bin" / "httpd").is_symlink()
    assert "app:x:1000:1000" in (root / "etc" / "passwd").read_text()
    assert (root / "tmp").stat().st_mode & 0o1777 == 0o1777


def test_tar_holds_contents_relative_to_root(tmp_path):
    root = rootfs.make_busybox_rootfs(tmp_path / "r")
    tar_path = rootfs.tar_directory(root, tmp_path / "r.tar")
    with tarfile.open(tar_path) as tar:
        names = tar.getnames()
    assert "bin/busybox" in names and "etc/passwd" in names
    assert not any(n.startswith("/") or n.startswith("r/") for n in names)
