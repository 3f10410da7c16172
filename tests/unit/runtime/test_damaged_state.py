"""What the runtime makes of a damaged state file (no kernel: these containers are only
their state files)."""

import json

import pytest

from stackup.engine.runtime.container import Runtime
from stackup.engine.runtime.containerstate import DamagedState

CID = "a" * 64


@pytest.fixture
def rt(tmp_path):
    runtime = Runtime(tmp_path / "root")
    runtime.cdir(CID).mkdir(parents=True)
    return runtime


def test_a_state_of_the_wrong_shape_is_one_clear_error_not_a_key_error(rt):
    (rt.cdir(CID) / "state.json").write_text(json.dumps({"id": CID, "name": "web"}))
    with pytest.raises(DamagedState, match="'status' is missing"):
        rt.list()
    with pytest.raises(DamagedState, match="state.json is damaged"):
        rt.get(CID)


def test_a_state_cut_short_is_taken_for_a_create_a_crash_cut_short(rt):
    # what a power loss leaves of the first, unsynced write: no container yet, and the
    # directory is left alone while a create may still be on its way (the grace period)
    (rt.cdir(CID) / "state.json").write_text('{"id": "' + CID + '", "na')
    assert rt.list() == []
    assert rt.cdir(CID).is_dir()
