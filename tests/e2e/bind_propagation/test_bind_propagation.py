"""`bind.propagation` rslave/slave: a mount the host makes below the bind's source after
the container started shows inside it; with the default (rprivate) it does not. A
slave bind of a folder on a private mount is refused (nothing could propagate)."""

import subprocess

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return stackup_busybox


@pytest.fixture
def shared_source(tmp_path):
    """A folder on a tmpfs of its own made shared (the host's / may be private), with a
    sub folder to mount on later; everything unmounted afterwards."""
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "propagation-src", str(src)], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", str(src)], check=True)
        (src / "sub").mkdir()
        yield src
    finally:
        subprocess.run(["umount", "-R", "-l", str(src)], check=False)


def test_slave_binds_receive_the_hosts_later_mounts(shared_source, stackup_stack, tmp_path):
    stack = stackup_stack("compose.yaml", env={"SRC": str(shared_source)})
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "propagation-late", str(shared_source / "sub")],
                   check=True)
    (shared_source / "sub" / "late.txt").write_text("mounted later\n")
    assert stack.exec("follower", "cat /in/sub/late.txt /in2/sub/late.txt").stdout == "mounted later\n" * 2
    assert "propagation-late" in stack.exec("follower", "cat /proc/mounts").stdout
    seen = stack.exec("keeper", "ls -A /in/sub; grep -c propagation-late /proc/mounts", check=False).stdout
    assert seen == "0\n", seen  # rprivate: neither the file nor the mount
    # the host's unmount propagates too
    subprocess.run(["umount", str(shared_source / "sub")], check=True)
    assert stack.exec("follower", "ls -A /in/sub").stdout == ""

    # a folder on a private mount: refused when the container is made (as a missing
    # bind source is), naming the mount and why
    plain = tmp_path / "plain"
    plain.mkdir()
    stack("down")
    out = stack("up", "-d", "follower", check=False, env={"SRC": str(plain)})
    assert out.returncode != 0, out.stderr
    assert "bind.propagation rslave" in out.stderr and "private mount" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
