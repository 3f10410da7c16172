"""Runtime.rename on recorded containers (no kernel: a created container is only its state file)."""

import pytest

from stackup.engine import state as st
from stackup.engine.runtime.container import Runtime
from stackup.errors import ConflictError, NotFoundError, UserError


@pytest.fixture
def rt(tmp_path):
    runtime = Runtime(tmp_path / "root")
    for n, name in enumerate(["web", "db"]):
        cid = f"{n}" * 64
        st.atomic_write_json(runtime.cdir(cid) / "state.json",
                             {"id": cid, "name": name, "status": "created", "created_at": f"t{n}"})
    return runtime


def test_rename_by_name_or_id_is_recorded(rt):
    assert rt.rename("web", "front").name == "front"
    assert rt.get("front").id == "0" * 64
    assert rt.rename("1" * 12, "web").name == "web"  # the freed name can be taken
    assert sorted(s.name for s in rt.list()) == ["front", "web"]


def test_rename_refuses_a_taken_name_a_bad_name_and_a_missing_container(rt):
    with pytest.raises(ConflictError, match="'db' is already in use"):
        rt.rename("web", "db")
    with pytest.raises(UserError, match="invalid container name '-x'"):
        rt.rename("web", "-x")
    with pytest.raises(NotFoundError):
        rt.rename("nope", "api")
    assert sorted(s.name for s in rt.list()) == ["db", "web"]
    assert rt.rename("web", "web").name == "web"  # its own name is no conflict
