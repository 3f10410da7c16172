"""What a kill of the CLI at a step of a create or a remove leaves, and what the next
command makes of it (no kernel: these containers are only their directories)."""

import shutil

import pytest

from stackup.engine import state as st
from stackup.engine.runtime import container
from stackup.engine.runtime.container import Runtime
from stackup.engine.runtime.containerstate import ContainerState, Status

CID = "b" * 64


class Killed(BaseException):
    """The SIGKILL, at the step the test chose."""


@pytest.fixture
def rt(tmp_path):
    return Runtime(tmp_path / "root")


def _created(rt):
    rt.cdir(CID).mkdir(parents=True)
    for sub in ("upper", "work", "rootfs"):
        (rt.cdir(CID) / sub).mkdir()
    (rt.cdir(CID) / "container.log").write_text("")
    rt.state_files.write(ContainerState(id=CID, name="web", status=Status.CREATED))


def test_a_remove_cut_short_leaves_a_container_the_next_remove_finds(rt, monkeypatch):
    _created(rt)
    real_rmtree = shutil.rmtree
    calls = []

    def rmtree_then_killed(path, *args, **kwargs):
        real_rmtree(path, *args, **kwargs)
        calls.append(path)
        raise Killed()

    monkeypatch.setattr(container.shutil, "rmtree", rmtree_then_killed)
    with pytest.raises(Killed):
        rt.remove(CID)
    assert calls and rt.state_files.exists(CID)       # the state file goes last
    monkeypatch.setattr(container.shutil, "rmtree", real_rmtree)
    # half removed (its root file system gone), so never started again: the next look
    # finishes the removal
    assert rt.states() == []
    assert not rt.cdir(CID).exists()


def test_a_directory_a_killed_create_left_without_its_state_is_collected(rt):
    rt.cdir(CID).mkdir(parents=True)   # made, then killed before its first state write
    assert rt.states() == []
    assert not rt.cdir(CID).exists()


def test_while_a_create_holds_the_names_lock_its_young_directory_is_left_alone(rt):
    rt.cdir(CID).mkdir(parents=True)
    with st.locked(rt.containers_dir / ".lock"):  # the names lock: a create under way
        assert rt.states() == []
        assert rt.cdir(CID).is_dir()
    assert rt.states() == [] and not rt.cdir(CID).exists()


def test_try_locked_does_not_wait(tmp_path):
    with st.try_locked(tmp_path / "lock") as mine:
        assert mine
        with st.try_locked(tmp_path / "lock") as again:
            assert not again
