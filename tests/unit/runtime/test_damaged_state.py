"""What the runtime makes of a damaged state file (no kernel: these containers are only
their state files)."""

import json

import pytest

from stackup.engine.runtime.container import Runtime
from stackup.errors import NotFoundError

CID = "a" * 64


@pytest.fixture
def rt(tmp_path):
    runtime = Runtime(tmp_path / "root")
    runtime.cdir(CID).mkdir(parents=True)
    return runtime


def test_a_state_of_the_wrong_shape_is_set_aside_with_one_line_not_a_key_error(rt, capsys):
    # (it was an error once; issue 19: damaged state is input, set aside, never a crash)
    (rt.cdir(CID) / "state.json").write_text(json.dumps({"id": CID, "name": "web"}))
    assert rt.list() == []
    err = capsys.readouterr().err
    assert "state.json is damaged ('status' is missing), set aside as" in err
    assert json.loads((rt.containers_dir / f"{CID}.state.json.damaged").read_text())["name"] == "web"
    with pytest.raises(NotFoundError):
        rt.get(CID)


def test_a_state_cut_short_is_taken_for_a_create_a_crash_cut_short(rt):
    # what a power loss leaves of the first, unsynced write: no container yet; the
    # directory is left alone while a create may still be on its way (it holds the names
    # lock, within the grace period), and removed when none is
    from stackup.engine import state as st

    (rt.cdir(CID) / "state.json").write_text('{"id": "' + CID + '", "na')
    with st.locked(rt.containers_dir / ".lock"):  # the names lock: a create under way
        assert rt.list() == []
        assert rt.cdir(CID).is_dir()
    assert rt.list() == [] and not rt.cdir(CID).exists()
