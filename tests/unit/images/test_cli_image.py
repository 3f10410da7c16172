"""`stackup image` helpers: which containers use an image (asked of the runtime), image times."""

import sys
import types
from pathlib import Path

from stackup.cli import image as cli
from stackup.engine.images.config import ImageConfig
from stackup.engine.images.store import Image
from stackup.engine.runtime.containerstate import ContainerState, Status


class FakeLayers:
    def path(self, chain):
        return Path("/layers") / chain[7:]


def make_image(image_id, chains):
    return Image(id=image_id, references=[], config=ImageConfig(), manifest_digest="", manifest_media_type="",
                 repo_digests=[], chain_ids=chains, diff_ids=[], created="", architecture="", os="", size=0,
                 layers=FakeLayers())


def test_users_by_image_id_or_by_identical_layers(monkeypatch):
    containers = [ContainerState(id=cid, name=name, status=Status.EXITED, spec=spec) for cid, name, spec in [
        ("c1", "web-1", {"image_id": "sha256:aaa", "layers": []}),
        ("c2", "db-1", {"image_id": "", "layers": ["/layers/x", "/layers/y"]}),
        ("c3", "other", {"image_id": "sha256:ccc", "layers": ["/layers/x"]}),
    ]]
    module = types.ModuleType("stackup.engine.runtime.container")
    module.Runtime = lambda: types.SimpleNamespace(list=lambda: containers)
    monkeypatch.setitem(sys.modules, "stackup.engine.runtime.container", module)
    users = cli._in_use()
    assert users(make_image("sha256:aaa", ["sha256:q"])) == ["web-1"]
    assert users(make_image("sha256:bbb", ["sha256:x", "sha256:y"])) == ["db-1"]
    assert users(make_image("sha256:ddd", ["sha256:z"])) == []


def test_no_runtime_means_no_hook(monkeypatch):
    monkeypatch.setitem(sys.modules, "stackup.engine.runtime.container", None)
    assert cli._in_use() is None


def test_image_times_as_go_and_python_write_them():
    assert cli.parse_time("2024-01-01T00:00:00Z").year == 2024
    assert cli.parse_time("2024-01-01T00:00:00.123456789Z").microsecond == 123456
    assert cli.parse_time("2024-01-01T02:00:00+02:00").hour == 2
    assert cli.parse_time("yesterday") is None
    assert cli.human_age("2000-01-01T00:00:00Z").endswith("years ago")
    assert cli.human_age("") == "N/A"
