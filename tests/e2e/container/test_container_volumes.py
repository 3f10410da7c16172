"""`stackup container run -v/--mount/--tmpfs`: named volumes, binds and tmpfs on the real kernel."""

import os
import subprocess
import sys

import pytest

from stackup.testing.containers import cli_runner

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def image(rootfs):
    (rootfs / "srv/app").mkdir(parents=True)
    (rootfs / "srv/app/seed.txt").write_text("from the image\n")
    return "dir:" + str(rootfs)


@pytest.fixture
def cli(root):
    return cli_runner(root, default_check=0)


def test_named_volume_outlives_its_container_and_is_released(cli, image):
    cli("run", "--rm", "-v", "data:/data", image, "sh", "-c", "echo kept > /data/f")
    p = cli("run", "--rm", "--mount", "type=volume,source=data,target=/d", image, "cat", "/d/f")
    assert p.stdout == "kept\n"
    # both containers were removed: the volume has no users and can be removed
    assert cli("inspect", "data", group="volume").stdout.count('"UsedBy": []') == 1
    cli("rm", "data", group="volume")


def test_volume_in_use_is_refused_without_force(cli, image):
    cid = cli("create", "-v", "busy:/b", image, "true").stdout.strip()
    p = cli("rm", "busy", group="volume", check=2)
    assert "in use" in p.stderr and cid[:12] in p.stderr
    cli("rm", cid)
    cli("rm", "busy", group="volume")


def test_tmpfs_data_does_not_survive_a_restart(cli, image):
    cid = cli("create", "--tmpfs", "/scratch:size=1m", image, "sh", "-c",
              "ls /scratch; grep ' /scratch ' /proc/mounts; echo x > /scratch/f").stdout.strip()
    cli("start", cid)
    cli("wait", cid)
    cli("start", cid)
    cli("wait", cid)
    logs = cli("logs", cid).stdout
    assert "f\n" not in logs  # the second run found /scratch empty
    assert logs.count("tmpfs /scratch tmpfs") == 2 and "size=1024k" in logs


def test_read_only_mounts_refuse_writes(cli, image, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("hello\n")
    p = cli("run", "--rm", "-v", f"{host}:/h:ro", "--mount", "type=volume,src=rov,dst=/v,readonly",
            image, "sh", "-c", "cat /h/in; echo x > /h/new || echo bind-refused; "
            "touch /v/new || echo volume-refused", check=0)
    assert p.stdout.splitlines() == ["hello", "bind-refused", "volume-refused"]
    assert "Read-only file system" in p.stderr
    assert not (host / "new").exists()


def test_relative_bind_paths_are_resolved_from_the_current_directory(cli, image, tmp_path):
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "f").write_text("relative\n")
    p = subprocess.run([sys.executable, "-m", "stackup", "container", "run", "--rm", "-v",
                        "./here:/h:ro", image, "cat", "/h/f"], cwd=tmp_path,
                       env=dict(os.environ, STACKUP_ROOT=str(cli.root)),
                       capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, "relative\n"), p.stderr


def test_two_containers_on_one_volume_see_each_others_writes(cli, image):
    a = cli("run", "-d", "-v", "shared:/s", image, "sh", "-c",
            "echo from-a > /s/a; while [ ! -e /s/b ]; do sleep 0.05; done; cat /s/b").stdout.strip()
    cli("run", "--rm", "-v", "shared:/s", image, "sh", "-c",
        "while [ ! -e /s/a ]; do sleep 0.05; done; cat /s/a; echo from-b > /s/b")
    assert cli("wait", a).stdout.strip() == "0"
    assert cli("logs", a).stdout == "from-b\n"


def test_empty_named_volume_is_filled_from_the_image_unless_nocopy(cli, image):
    p = cli("run", "--rm", "-v", "filled:/srv/app", image, "cat", "/srv/app/seed.txt")
    assert p.stdout == "from the image\n"
    p = cli("run", "--rm", "-v", "bare:/srv/app:nocopy", image, "ls", "-A", "/srv/app")
    assert p.stdout == ""
    # subpath: a directory inside a volume
    cli("run", "--rm", "-v", "filled:/x", image, "sh", "-c", "mkdir /x/sub; echo s > /x/sub/f")
    p = cli("run", "--rm", "--mount", "type=volume,src=filled,dst=/y,volume-subpath=sub",
            image, "cat", "/y/f")
    assert p.stdout == "s\n"


def test_bad_mounts_are_one_line_errors_and_leave_nothing(cli, image, tmp_path):
    for args in (["-v", "/nowhere-relative"], ["--mount", "type=bind,src=/no/such/dir,dst=/x"],
                 ["--mount", "type=nfs,dst=/x"], ["--tmpfs", "/t:size=lots"],
                 ["-v", "bad name!:/x"]):
        p = cli("run", "--rm", *args, image, "true", check=None)
        assert p.returncode == 2, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    d = cli.root / "containers"
    assert not d.exists() or not any(d.iterdir())
