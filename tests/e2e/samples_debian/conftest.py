"""The Debian samples share one root: Debian is imported once, and the builder's cache
keeps the apt-get layers between the tests (each test still brings its own stack up
and checks that `down -v` leaves nothing)."""

import os
import shutil

import pytest

from stackup.testing.debian import import_debian


@pytest.fixture(scope="session")
def debian_root(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap missing")
    root = tmp_path_factory.mktemp("samples") / "root"
    import_debian(root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def stackup_root(debian_root):
    return debian_root
