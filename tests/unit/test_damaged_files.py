"""Every kind of state file, damaged every way: its reader sets it aside (renamed
`.damaged`, never deleted) with one warning line naming it, and answers as if it had no
record; nothing raises. No kernel: the network's kernel side is a recording fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from stackup.engine import checkedjson, volumes
from stackup.engine.network import networks, portmap, store
from stackup.engine.runtime import statefile
from stackup.engine.runtime.container import Runtime

CID = "c" * 64
NET_ID = "d" * 64

GOOD_CONTAINER = {"id": CID, "name": "db", "status": "exited", "spec": {}}
GOOD_NETWORK = {"id": NET_ID, "name": "p_default", "bridge": "stk-ddddddddddd", "labels": {},
                "ipam": {"subnet": "10.99.0.0/24", "gateway": "10.99.0.1"}, "endpoints": {},
                "internal": False, "dns_pid": None, "created": "2026-01-01"}
GOOD_VOLUME = {"name": "p_data", "driver": "local", "labels": {"a": "b"}, "options": {},
               "users": [], "anonymous": False}
GOOD_PORTS = {"pid": None, "container_ip": "10.99.0.2",
              "bindings": [{"container_port": 80, "protocol": "tcp", "host_ip": "",
                            "host_port": 8080, "host_port_end": 0}]}

# damage -> the bytes it leaves of a good file (None: the file is deleted)
DAMAGE: dict[str, Callable[[bytes], bytes | None]] = {
    "empty": lambda good: b"",
    "cut": lambda good: good[: len(good) // 2],
    "garbage": lambda good: b"\x00\xff\xfe garbage \x01" * 8,
    "wrong-shape-list": lambda good: b"[1, 2, 3]\n",
    "wrong-shape-types": lambda good: json.dumps(
        {k: ([v] if not isinstance(v, list) else "x") for k, v in json.loads(good).items()}).encode(),
    "deleted": lambda good: None,
}


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    return tmp_path / "root"


@pytest.fixture
def leftovers_removed(monkeypatch):
    removed: list[str] = []
    monkeypatch.setattr(networks, "remove_leftovers", removed.append)
    return removed


def damage(path: Path, good: dict, how: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = DAMAGE[how]((json.dumps(good, indent=2) + "\n").encode())
    if data is not None:
        path.write_bytes(data)


def assert_set_aside(path: Path, how: str, err: str, aside: Path | None = None) -> None:
    aside = aside or Path(str(path) + ".damaged")
    assert not path.exists()
    if how == "deleted":
        assert not aside.exists() and "warning" not in err
        return
    assert aside.exists(), "the damaged file is kept"
    lines = [ln for ln in err.splitlines() if "is damaged" in ln]
    assert len(lines) == 1 and str(path) in lines[0] and str(aside) in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("how", DAMAGE)
def test_a_container_state_file(root, how, capsys):
    rt = Runtime(root)
    rt.cdir(CID).mkdir(parents=True)
    path = rt.cdir(CID) / "state.json"
    damage(path, GOOD_CONTAINER, how)
    assert rt.list() == []
    assert_set_aside(path, how, capsys.readouterr().err, root / "containers" / f"{CID}.state.json.damaged")


@pytest.mark.parametrize("how", DAMAGE)
def test_a_network_file(root, how, capsys, leftovers_removed):
    path = root / "networks" / f"{NET_ID}.json"
    damage(path, GOOD_NETWORK, how)
    assert store.load_all() == []
    assert_set_aside(path, how, capsys.readouterr().err)
    # the kernel side of a network known by a damaged file is taken away (found by its id)
    assert leftovers_removed == ([] if how == "deleted" else [NET_ID])


@pytest.mark.parametrize("how", DAMAGE)
def test_a_volume_record(root, how, capsys):
    path = root / "volumes" / "p_data" / "meta.json"
    damage(path, GOOD_VOLUME, how)
    (root / "volumes" / "p_data" / "_data").mkdir(parents=True)
    (root / "volumes" / "p_data" / "_data" / "keep").write_text("data")
    assert volumes.list_volumes() == []
    assert_set_aside(path, how, capsys.readouterr().err)
    # the next `up` records the volume again over the same data, with its labels
    meta = volumes.create_volume("p_data", labels={"a": "b"})
    assert meta["labels"] == {"a": "b"}
    assert (root / "volumes" / "p_data" / "_data" / "keep").read_text() == "data"
    assert volumes.get_volume("p_data")["name"] == "p_data"


@pytest.mark.parametrize("how", DAMAGE)
def test_a_port_record(root, how, capsys):
    path = root / "ports" / f"{CID}.json"
    damage(path, GOOD_PORTS, how)
    assert portmap.published(CID) == []
    portmap.unpublish(CID)
    assert_set_aside(path, how, capsys.readouterr().err)


def test_good_files_are_read_as_they_are(root, leftovers_removed):
    for path, good in ((root / "networks" / f"{NET_ID}.json", GOOD_NETWORK),
                       (root / "volumes" / "p_data" / "meta.json", GOOD_VOLUME),
                       (root / "ports" / f"{CID}.json", GOOD_PORTS)):
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(good))
    assert store.load_all() == [GOOD_NETWORK]
    assert volumes.list_volumes() == [GOOD_VOLUME]
    assert [b.host_port for b in portmap.published(CID)] == [8080]
    assert leftovers_removed == []


def test_the_reader_tells_each_damage_apart(tmp_path):
    path = tmp_path / "f.json"
    reasons = {}
    for how in ("empty", "cut", "garbage", "wrong-shape-list"):
        damage(path, GOOD_CONTAINER, how)
        with pytest.raises(checkedjson.DamagedState) as caught:
            checkedjson.read(str(path), statefile.shape_problem)
        reasons[how] = (caught.value.reason, caught.value.not_json)
    assert reasons["empty"] == ("the file is empty", True)
    assert reasons["cut"][0].startswith("not JSON") and reasons["cut"][1]
    assert reasons["garbage"] == ("not JSON: not UTF-8 text", True)
    assert reasons["wrong-shape-list"] == ("a JSON object was expected, not list", False)
    path.unlink()
    assert checkedjson.read(str(path), statefile.shape_problem) is None


def test_setting_aside_never_overwrites_an_earlier_damaged_file(tmp_path):
    path = tmp_path / "f.json"
    for n in range(3):
        path.write_text(f"bad {n}")
        checkedjson.set_aside(str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json.damaged", "f.json.damaged.1",
                                                          "f.json.damaged.2"]
    assert (tmp_path / "f.json.damaged").read_text() == "bad 0"
    assert checkedjson.set_aside(str(path)) == ""


@pytest.mark.parametrize("how", [d for d in DAMAGE if d != "deleted"])
def test_a_damaged_image_index_is_one_clear_error_and_is_kept(tmp_path, how):
    # not set aside: nothing in the kernel rebuilds it, and without it a gc would take
    # every layer for unused; the error names the file (one line, no traceback)
    from stackup.engine.images.store import ImageStore

    store = ImageStore(tmp_path / "images")
    index = tmp_path / "images" / "index.json"
    damage(index, {"images": {"sha256:" + "a" * 64: {"manifest": "m", "chain_ids": []}}}, how)
    with pytest.raises(checkedjson.DamagedState, match=f"{index} is damaged"):
        store.list()
    assert index.exists()
