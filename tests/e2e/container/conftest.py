"""What the `stackup container` end-to-end tests share: a busybox image directory, a
STACKUP_ROOT of the test's own that is checked for leftovers, and the CLI runner."""

import os

import pytest

from stackup.testing.containers import assert_no_trace
from stackup.testing.rootfs import make_busybox_rootfs


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    return make_busybox_rootfs(tmp_path_factory.mktemp("img") / "rootfs")


@pytest.fixture(scope="module")
def image(rootfs):
    return "dir:" + str(rootfs)


@pytest.fixture
def root(tmp_path, monkeypatch):
    """The test's STACKUP_ROOT; afterwards every container is removed and leaves no trace."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = tmp_path / "root"
    monkeypatch.setenv("STACKUP_ROOT", str(root))
    yield root
    from stackup.engine.runtime.container import Runtime

    rt = Runtime(root)
    for state in rt.list():
        rt.remove(state.id, force=True)
        assert_no_trace(rt, state.id)
