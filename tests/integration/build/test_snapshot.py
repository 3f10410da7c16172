"""Views of a build step's layers: overlays mounted on the host, always taken down."""

import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from stackup.engine.build.snapshot import mounted, scratch_dir, sweep

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root (mounts)", allow_module_level=True)


def mounts_below(path) -> list[str]:
    prefix = str(path)
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


@pytest.fixture
def tmp_root(tmp_path, monkeypatch):
    root = tmp_path / "root"
    monkeypatch.setenv("STACKUP_ROOT", str(root))
    yield root / "build" / "tmp"
    assert mounts_below(tmp_path) == []


def layer(path, files: dict[str, bytes]):
    path.mkdir(parents=True)
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def test_a_writable_view_stacks_layers_and_collects_changes_in_its_upper(tmp_path, tmp_root):
    base = layer(tmp_path / "base", {"a": b"base a", "gone": b"x", "etc/conf": b"1"})
    top = layer(tmp_path / "top", {"a": b"top a", "b": b"top b"})
    with scratch_dir() as scratch:
        with mounted([base, top], scratch) as view:
            assert (view.root / "a").read_bytes() == b"top a"
            assert (view.root / "etc/conf").read_bytes() == b"1"
            (view.root / "new").write_bytes(b"new")
            (view.root / "gone").unlink()
            assert mounts_below(scratch)
        assert mounts_below(scratch) == []
        assert (view.upper / "new").read_bytes() == b"new"
        st = os.lstat(view.upper / "gone")
        assert st.st_rdev == 0 and (st.st_mode & 0o170000) == 0o020000  # a whiteout
        assert not (view.upper / "a").exists()
    assert not scratch.exists()
    assert (base / "gone").exists()  # lowers untouched


def test_a_writable_view_of_no_layers_starts_empty(tmp_root):
    with scratch_dir() as scratch, mounted([], scratch) as view:
        assert os.listdir(view.root) == []
        (view.root / "f").write_text("x")
    assert not scratch.exists()


@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_read_only_views_of_any_number_of_layers(tmp_path, tmp_root, count):
    layers = [layer(tmp_path / f"l{i}", {f"f{i}": b"%d" % i}) for i in range(count)]
    with scratch_dir() as scratch, mounted(layers, scratch, writable=False) as view:
        assert view.upper is None
        assert sorted(os.listdir(view.root)) == [f"f{i}" for i in range(count)]
        if count:
            with pytest.raises(OSError) as caught:
                (view.root / "new").write_text("x")
            assert caught.value.errno == errno.EROFS
    assert [p.name for p in layers for p in p.iterdir()] == [f"f{i}" for i in range(count)]


def test_many_layers_with_long_paths_mount(tmp_path, tmp_root):
    deep = tmp_path / ("d" * 120)
    layers = [layer(deep / f"layer-{i:03d}-{'x' * 40}", {f"f{i}": b"%d" % i}) for i in range(120)]
    for writable in (True, False):
        with scratch_dir() as scratch, mounted(layers, scratch, writable) as view:
            assert len(os.listdir(view.root)) == 120
            assert (view.root / "f0").read_bytes() == b"0" and (view.root / "f119").read_bytes() == b"119"


def test_an_error_inside_the_block_still_unmounts(tmp_path, tmp_root):
    base = layer(tmp_path / "base", {"a": b"a"})
    with pytest.raises(RuntimeError), scratch_dir() as scratch:
        with mounted([base], scratch) as view:
            assert (view.root / "a").exists()
            raise RuntimeError("step failed")
    assert not scratch.exists()


def test_mounts_do_not_propagate_from_a_shared_parent(tmp_path, tmp_root):
    """On a host whose mounts are shared (systemd's `/`), a view stays in this namespace."""
    tmp_root.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(tmp_root), str(tmp_root)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(tmp_root)], check=True)
        peer = tmp_path / "peer"
        peer.mkdir()
        subprocess.run(["mount", "--bind", str(tmp_root), str(peer)], check=True)  # a peer of it
        try:
            base = layer(tmp_path / "base", {"a": b"a"})
            top = layer(tmp_path / "top", {"b": b"b"})
            with scratch_dir() as scratch, mounted([base, top], scratch) as view:
                assert (view.root / "a").exists()
                assert not (peer / scratch.name / "merged" / "a").exists()
        finally:
            subprocess.run(["umount", str(peer)], check=True)
    finally:
        subprocess.run(["umount", str(tmp_root)], check=True)


def test_sweep_takes_what_a_killed_build_left_and_spares_a_live_one(tmp_path, tmp_root):
    base = layer(tmp_path / "base", {"a": b"a"})
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from stackup.engine.build.snapshot import mounted, scratch_dir
        with scratch_dir() as scratch, mounted([Path({str(base)!r})], scratch):
            print(scratch, flush=True)
            time.sleep(600)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        killed = child.stdout.readline().strip()
        assert killed and mounts_below(killed)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert mounts_below(killed)  # a killed build leaves its mounts
    with scratch_dir() as live, mounted([base], live):
        assert sweep() == [os.path.basename(killed)]
        assert mounts_below(killed) == [] and not os.path.exists(killed)
        assert mounts_below(live) and (live / "merged" / "a").exists()
    assert sweep() == []
