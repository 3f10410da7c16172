"""An image's own VOLUME entries become anonymous volumes labelled with the project,
and `down -v` removes them."""

import json

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return lambda cli: stackup_busybox(cli, "stackup.local/busybox-vol:latest", ['VOLUME ["/data"]'])


def _project_volumes(root):
    found = {}
    for meta in root.glob("volumes/*/meta.json"):
        labels = json.loads(meta.read_text()).get("labels") or {}
        if labels.get("io.stackup.project") == "e2e-imgvol":
            found[meta.parent.name] = meta.parent
    return found


@pytest.mark.stackup("compose.yaml")
def test_image_volume_goes_with_down_v(stackup, stackup_root):
    volumes = _project_volumes(stackup_root)
    assert len(volumes) == 1, volumes
    (path,) = volumes.values()
    assert stackup.exec("app", "cat /data/file").stdout == "kept\n"
    assert (path / "_data" / "file").read_text() == "kept\n"   # /data is the volume, not the layer
    stackup("down", "-v")
    assert _project_volumes(stackup_root) == {}
