"""A volume create killed at any step leaves either no volume or a whole one, and
nothing the next command does not clean."""

import os

import pytest

from stackup.engine import volumes


class Killed(BaseException):
    """The SIGKILL, at the step the test chose."""


def test_a_create_killed_before_its_volume_is_in_place_leaves_nothing(monkeypatch):
    def killed(*args):
        raise Killed()

    rename = os.rename
    monkeypatch.setattr(volumes.os, "rename", killed)
    with pytest.raises(Killed):
        volumes.create_volume("data", labels={"io.stackup.project": "p"})
    monkeypatch.setattr(volumes.os, "rename", rename)
    assert volumes.list_volumes() == []
    assert os.listdir(volumes.volumes_dir()) == [".lock"]   # the half-made one was collected
    assert volumes.create_volume("data")["name"] == "data"
    assert volumes.data_path("data").is_dir()


def test_a_volume_whose_record_is_missing_keeps_its_data():
    # what an older stackup left when killed between the data folder and its record
    volumes.data_path("data").mkdir(parents=True)
    (volumes.data_path("data") / "kept").write_text("precious")
    volumes.create_volume("data")
    assert (volumes.data_path("data") / "kept").read_text() == "precious"
    assert [v["name"] for v in volumes.list_volumes()] == ["data"]
