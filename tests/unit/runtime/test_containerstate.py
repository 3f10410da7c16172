"""The container's state file: typed round trip, what each status allows, damaged files."""

import json

import pytest

from stackup.engine.runtime import statefile
from stackup.engine.runtime.containerstate import (
    ContainerState,
    DamagedState,
    StateStore,
    Status,
)
from stackup.errors import StackupError

CID = "c" * 64

# A state file as the code before the typed state wrote it (json.dump, indent=2).
OLD_FORMAT = {
    "id": CID, "name": "web", "created_at": "2026-01-02T03:04:05.123456Z", "status": "exited",
    "creator_pid": 0, "pid": 0, "shim_pid": 0, "exit_code": 137, "oom_killed": False,
    "started_at": "2026-01-02T03:04:06Z", "finished_at": "2026-01-02T03:05:00Z",
    "restart_count": 2, "error": "the container's shim died", "netns": "",
    "network": {}, "spec": {"image_id": "sha256:ab", "labels": {"a": "b"}, "mounts": []},
    "health": {"status": "healthy", "failing_streak": 0, "log": []},
}


@pytest.fixture
def store(tmp_path):
    (tmp_path / CID).mkdir()
    return StateStore(tmp_path)


def write_raw(store, data: bytes):
    store.path(CID).write_bytes(data)


def test_a_file_written_by_the_old_code_reads_and_writes_back_the_same(store):
    write_raw(store, json.dumps(OLD_FORMAT, indent=2, sort_keys=True).encode())
    state = store.read(CID)
    assert state.status is Status.EXITED and state.exit_code == 137 and state.restart_count == 2
    assert state.spec["labels"] == {"a": "b"} and state.health["status"] == "healthy"
    store.write(state)
    assert json.loads(store.path(CID).read_text()) == OLD_FORMAT


def test_round_trip_keeps_unknown_keys_and_leaves_health_out_until_a_check(store):
    state = ContainerState(id=CID, name="db", status=Status.CREATED, spec={"tty": True},
                           extra={"later": [1, 2]})
    store.write(state, durable=True)
    raw = json.loads(store.path(CID).read_text())
    assert raw["status"] == "created" and raw["later"] == [1, 2] and "health" not in raw
    assert "extra" not in raw
    assert store.read(CID) == state
    assert store.read("d" * 64) is None  # no state file: None, not an error


def test_the_recorded_spec_reads_as_a_container_spec_and_stays_as_written():
    raw = dict(OLD_FORMAT, spec={"image_id": "sha256:ab", "labels": {"a": "b"}, "tty": True,
                                 "from_a_newer_version": 1,
                                 "mounts": [{"type": "bind", "target": "/t", "source": "/s",
                                             "propagation": "rslave"}]})
    state = ContainerState.from_dict(raw)
    spec = state.container_spec()
    assert (spec.image_id, spec.labels, spec.tty, spec.network_mode) == ("sha256:ab", {"a": "b"}, True, "none")
    assert [(m.type, m.target, m.source) for m in spec.mounts] == [("bind", "/t", "/s")]
    assert state.to_dict()["spec"] == raw["spec"]  # the record keeps what it does not know


def test_replace_takes_status_words_and_members():
    state = ContainerState(id=CID, name="x", status=Status.CREATED)
    assert state.replace(status="running").status is Status.RUNNING
    assert state.replace(status=Status.PAUSED, pid=7).pid == 7
    assert state.status is Status.CREATED  # a new record, the old one unchanged
    with pytest.raises(ValueError):
        state.replace(status="dead")


PREDICATES = ("is_up", "is_up_or_starting", "can_start", "can_stop", "can_pause",
              "can_unpause", "can_exec")
ALLOWED = {  # status -> the predicates that are true for it
    Status.CREATING: set(),
    Status.CREATED: {"can_start"},
    Status.STARTING: {"is_up_or_starting"},
    Status.RUNNING: {"is_up", "is_up_or_starting", "can_stop", "can_pause", "can_exec"},
    Status.PAUSED: {"is_up", "is_up_or_starting", "can_stop", "can_unpause"},
    Status.RESTARTING: {"is_up", "is_up_or_starting", "can_stop"},
    Status.EXITED: {"can_start"},
}


@pytest.mark.parametrize("status", list(Status))
def test_what_each_status_allows(status):
    assert {p for p in PREDICATES if getattr(status, p)()} == ALLOWED[status]


def test_the_statuses_are_the_file_words_and_print_as_them():
    assert [s.value for s in Status] == list(statefile.STATUSES)
    assert f"{Status.RESTARTING}" == "restarting" and Status.RUNNING == "running"


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"  \n", "empty"),
    (json.dumps(OLD_FORMAT).encode()[:200], "not JSON"),   # cut in half
    (b"\x00\xffgarbage", "not UTF-8"),                          # not even text
    (b"garbage", "not JSON"),
    (json.dumps(OLD_FORMAT).encode() + b"}", "extra data"),
])
def test_a_file_that_is_not_json_is_one_typed_error(store, data, reason):
    write_raw(store, data)
    with pytest.raises(DamagedState, match=reason) as caught:
        store.read(CID)
    assert caught.value.not_json and caught.value.path == str(store.path(CID))
    assert isinstance(caught.value, StackupError)  # one clear line at the CLI


@pytest.mark.parametrize("change, reason", [
    (lambda s: [1, 2], "a JSON object was expected, not list"),
    (lambda s: {k: v for k, v in s.items() if k != "status"}, "'status' is missing"),
    (lambda s: dict(s, status="dead"), "unknown status 'dead'"),
    (lambda s: dict(s, pid="12"), "'pid' is str, expected int"),
    (lambda s: dict(s, spec=None), "'spec' is NoneType, expected dict"),
    (lambda s: dict(s, exit_code="x"), "'exit_code' is str, expected int or NoneType"),
])
def test_a_file_of_the_wrong_shape_is_one_typed_error(store, change, reason):
    write_raw(store, json.dumps(change(dict(OLD_FORMAT))).encode())
    with pytest.raises(DamagedState, match=reason) as caught:
        store.read(CID)
    assert not caught.value.not_json


def test_update_under_the_lock_and_when_the_container_is_gone(store, tmp_path):
    store.write(ContainerState(id=CID, name="x", status=Status.STARTING))
    cdir = str(tmp_path / CID)
    after = statefile.update(cdir, lambda s: s.update(status="running", pid=5))
    assert after["status"] == "running" and store.read(CID).pid == 5
    store.path(CID).unlink()
    assert statefile.update(cdir, lambda s: s.update(pid=6)) is None
    assert statefile.update(str(tmp_path / "gone"), lambda s: s.update(pid=6)) is None
    with pytest.raises(FileNotFoundError), store.locked("gone"):
        pass
    assert not (tmp_path / "gone").exists()  # taking the lock does not make the directory


def test_no_temporary_file_is_left(store, tmp_path):
    store.write(ContainerState(id=CID, name="x", status=Status.CREATED))
    store.write(ContainerState(id=CID, name="y", status=Status.CREATED), durable=True)
    assert sorted(p.name for p in (tmp_path / CID).iterdir()) == ["state.json"]
