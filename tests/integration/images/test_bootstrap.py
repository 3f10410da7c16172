"""A Debian slim base image made here with mmdebstrap from the host's Debian mirror, then run.

mmdebstrap takes most of a minute, so its root file system tar is kept under
/var/cache/stackup-test/, one per suite and day: later runs that day import the same tar
(the import, the image's config and the run are tested every time; mmdebstrap once a day).
"""

import datetime
import os
import shutil
from pathlib import Path

import pytest

from stackup.engine.images import bootstrap as bs
from stackup.engine.images.progress import Progress
from stackup.engine.images.store import ImageStore
from stackup.engine.runtime.container import Runtime
from stackup.engine.runtime.spec import ContainerSpec
from stackup.errors import UserError
from stackup.testing.containers import assert_no_trace, output

pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("mmdebstrap") is None, reason="mmdebstrap missing")]

if os.geteuid() != 0:
    pytest.skip("needs root (mmdebstrap's root mode, layers keep owners)", allow_module_level=True)

CACHE = Path("/var/cache/stackup-test")


class Lines(Progress):
    def __init__(self):
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)


@pytest.fixture(scope="module")
def mirrors():
    return bs.debian_mirrors(bs.host_sources())


@pytest.fixture(scope="module")
def slim_rootfs(mirrors) -> tuple[Path, list[str]]:
    """The bookworm-slim tar of today, made by mmdebstrap unless already cached."""
    t = bs.target("debian:bookworm-slim")
    lines = bs.apt_lines(t, mirrors, Progress())
    CACHE.mkdir(parents=True, exist_ok=True)
    tar = CACHE / f"debian-bookworm-slim-{datetime.date.today():%Y%m%d}.tar"
    if not tar.exists():
        for old in CACHE.glob("debian-bookworm-slim-*.tar"):
            old.unlink()
        progress = Lines()
        partial = tar.with_suffix(f".{os.getpid()}.partial")
        try:
            bs.make_rootfs(t, lines, partial, progress)
            partial.rename(tar)
        finally:
            partial.unlink(missing_ok=True)
        assert any("I: success" in line for line in progress.lines), progress.lines
    return tar, lines


def test_bootstrapped_slim_image_runs_and_is_slim(slim_rootfs, tmp_path, monkeypatch):
    tar, lines = slim_rootfs
    root = tmp_path / "root"
    monkeypatch.setenv("STACKUP_ROOT", str(root))
    store = ImageStore()
    image = bs.import_image(store, bs.target("debian:bookworm-slim"), tar, lines)
    assert image.references == ["docker.io/library/debian:bookworm-slim"]
    assert store.resolve("debian:bookworm-slim").id == image.id
    assert image.config.cmd == ["bash"]
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in image.config.env

    (layer,) = image.layer_dirs()
    # Debian's slim rules: no manuals, no documentation but copyright files, no translations.
    assert [p for p in (layer / "usr/share/man").rglob("*") if not p.is_dir()] == []
    docs = [p for p in (layer / "usr/share/doc").rglob("*") if not p.is_dir()]
    assert docs and all(p.name == "copyright" for p in docs)
    assert list((layer / "usr/share/locale").rglob("*.mo")) == []
    assert "path-exclude=/usr/share/doc/*" in (layer / "etc/dpkg/dpkg.cfg.d/docker").read_text()
    # The official images' minimizing config; nothing of the host's.
    assert (layer / "usr/sbin/policy-rc.d").stat().st_mode & 0o777 == 0o755
    assert (layer / "etc/apt/apt.conf.d/docker-clean").exists()
    assert not (layer / "etc/resolv.conf").exists() and not (layer / "etc/hostname").exists()
    assert list((layer / "dev").iterdir()) == [] and list((layer / "var/lib/apt/lists").glob("*_Packages*")) == []
    assert list((layer / "var/cache/apt").glob("*.bin")) == []
    assert "bookworm-updates" in (layer / "etc/apt/sources.list").read_text()

    rt = Runtime(root)
    state = rt.create(ContainerSpec(image=image.references[0], image_id=image.id,
                                    layers=[str(p) for p in image.layer_dirs()],
                                    argv=["bash", "-c", "cat /etc/debian_version"], env=image.config.env))
    try:
        rt.start(state.id)
        assert rt.wait(state.id, timeout=60) == 0
        assert output(rt, state.id).startswith("12.")
    finally:
        rt.remove(state.id, force=True)
    assert_no_trace(rt, state.id)


def test_a_suite_the_mirror_lacks_is_refused_before_mmdebstrap_runs(mirrors, tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    with pytest.raises(UserError, match=r"debian:buzz: the Debian mirror .* has no suite 'buzz'"):
        bs.bootstrap(ImageStore(), "debian:buzz")
    assert ImageStore().list() == []
