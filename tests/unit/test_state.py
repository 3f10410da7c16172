"""Atomic writes and locks of the engine's state."""

import os
import threading

from stackup.engine import state


def test_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path))
    assert state.root() == tmp_path
    monkeypatch.delenv("STACKUP_ROOT")
    assert str(state.root()) == state.DEFAULT_ROOT


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "c.json"
    state.atomic_write_json(target, {"a": 1})
    state.atomic_write_json(target, {"a": 2})
    assert state.read_json(target) == {"a": 2}
    assert os.listdir(target.parent) == ["c.json"]


def test_failed_write_keeps_old_content(tmp_path):
    target = tmp_path / "c.json"
    state.atomic_write_json(target, {"a": 1})
    try:
        state.atomic_write_json(target, {"bad": object()})
    except TypeError:
        pass
    assert state.read_json(target) == {"a": 1}
    assert state.read_json(tmp_path / "missing.json", default=[]) == []


def test_lock_serializes_read_modify_write(tmp_path):
    counter = tmp_path / "n.json"
    state.atomic_write_json(counter, 0)

    def bump():
        for _ in range(50):
            with state.locked(tmp_path / "n.lock"):
                state.atomic_write_json(counter, state.read_json(counter) + 1)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state.read_json(counter) == 200


def test_what_killed_atomic_writes_left_goes_with_the_object(tmp_path):
    """A write killed between its temp file and the rename leaves `.NAME.*.tmp`; removing
    the object removes those too (and nothing of another object)."""
    from stackup.engine import state

    record = tmp_path / "abc.json"
    (tmp_path / ".abc.json.5a329b258d35.tmp").write_text("{")
    (tmp_path / ".abcd.json.5a329b258d35.tmp").write_text("{")
    state.remove_unfinished_writes(record)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".abcd.json.5a329b258d35.tmp"]
