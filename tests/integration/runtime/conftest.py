"""Fixtures for runtime tests on the real kernel: a busybox layer and a private engine root."""

import os
from pathlib import Path

import pytest

from stackup.engine.runtime.container import Runtime
from stackup.testing.containers import assert_no_trace
from stackup.testing.rootfs import make_busybox_rootfs

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture(scope="session")
def busybox_layer(tmp_path_factory) -> Path:
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "layer")


@pytest.fixture
def rt(tmp_path, monkeypatch, busybox_layer):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = tmp_path / "root"
    monkeypatch.setenv("STACKUP_ROOT", str(root))
    runtime = Runtime(root)
    runtime.layer = busybox_layer
    yield runtime
    for state in runtime.list():
        runtime.remove(state.id, force=True)
        assert_no_trace(runtime, state.id)


