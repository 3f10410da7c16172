"""Volumes mounted for real (in a private mount namespace made with unshare -m)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from stackup.engine import volumes

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("mount tests need root", allow_module_level=True)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    volumes.register_in_use(None)
    return tmp_path


def run_with_mounts(rootfs: Path, mounts: list[volumes.ResolvedMount], script: str) -> subprocess.CompletedProcess:
    """Perform `mounts` under `rootfs` the way the runtime would, then run `script` (sh)."""
    lines = ["set -e"]
    for m in mounts:
        target = shlex.quote(str(rootfs / m.target.lstrip("/")))
        lines.append(f"mkdir -p {target}")
        if m.type == "tmpfs":
            opts = ",".join(o for o in m.options if o != "ro")
            lines.append(f"mount -t tmpfs -o {opts} tmpfs {target}")
        else:
            lines.append(f"mount --rbind {shlex.quote(m.source)} {target}")
        if m.read_only:
            lines.append(f"mount -o remount,bind,ro {target}")
    lines.append("set +e")
    lines.append(script)
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", "\n".join(lines)],
                          capture_output=True, text=True, timeout=30)


def test_named_volume_data_survives_and_is_shared(root):
    c1 = volumes.resolve_mounts(["data:/data"], container_id="c1")
    out = run_with_mounts(root / "c1", c1, f"echo kept > {root}/c1/data/file")
    assert out.returncode == 0, out.stderr
    volumes.release("c1")  # container 1 removed
    c2 = volumes.resolve_mounts(["data:/srv/data:ro"], container_id="c2")
    out = run_with_mounts(root / "c2", c2, f"cat {root}/c2/srv/data/file")
    assert out.stdout.strip() == "kept"
    # nothing stays mounted outside the private namespace
    assert str(root) not in Path("/proc/self/mountinfo").read_text()


def test_read_only_mount_refuses_writes(root):
    mounts = volumes.resolve_mounts(["ro-vol:/v:ro"], container_id="c1")
    out = run_with_mounts(root / "c", mounts, f"echo x > {root}/c/v/f")
    assert out.returncode != 0 and "Read-only" in out.stderr


def test_tmpfs_data_does_not_survive_and_size_is_enforced(root):
    mounts = volumes.resolve_mounts([], tmpfs=["/scratch:size=64k,mode=1770"])
    target = root / "c" / "scratch"
    script = (f"stat -c %a {target}; echo temp > {target}/f; cat {target}/f; "
              f"dd if=/dev/zero of={target}/big bs=1k count=256 2>/dev/null && echo fits || echo full")
    out = run_with_mounts(root / "c", mounts, script)
    assert out.stdout.split() == ["1770", "temp", "full"]
    assert not (target / "f").exists()


def test_bind_mount_sees_host_changes(root):
    host = root / "host-dir"
    mounts = volumes.resolve_mounts([f"{host}:/mnt/h"])
    assert host.is_dir()
    (host / "note").write_text("from host")
    out = run_with_mounts(root / "c", mounts, f"cat {root}/c/mnt/h/note; echo back > {root}/c/mnt/h/reply")
    assert out.stdout.strip() == "from host"
    assert (host / "reply").read_text().strip() == "back"
