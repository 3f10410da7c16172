"""Every volume test gets its own STACKUP_ROOT and no in-use provider left by another."""

import pytest

from stackup.engine import volumes


@pytest.fixture(autouse=True)
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    volumes.register_in_use(None)
    yield tmp_path
