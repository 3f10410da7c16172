"""A recreated service keeps its anonymous volumes (its image's VOLUME paths and its
source-less stack volumes) at the same paths, as compose does; `up -V` gives it
fresh ones; `down -v` leaves no volume of the project behind."""

import json

import pytest

pytestmark = pytest.mark.root

PROJECT = "anonvol-e2e"


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return lambda cli: stackup_busybox(cli, "stackup.local/busybox-anonvol:latest", ['VOLUME ["/img"]'])


def _project_volumes(root):
    found = set()
    for meta in root.glob("volumes/*/meta.json"):
        labels = json.loads(meta.read_text()).get("labels") or {}
        if labels.get("io.stackup.project") == PROJECT:
            found.add(meta.parent.name)
    return found


def _app_id(stack):
    (row,) = stack.ps()
    assert row["State"] == "running", row
    return row["ID"]


def test_anonymous_volumes_survive_a_recreate_unless_renewed(stackup_stack, stackup_root):
    stack = stackup_stack("compose.yaml")
    first = _app_id(stack)
    stack.exec("app", "echo img > /img/file && echo data > /data/file")
    volumes = _project_volumes(stackup_root)
    assert len(volumes) == 2, volumes

    plan = stack("up", "--dry-run", env={"MARK": "two"}).stdout
    assert "create anonvol-e2e-app-1: config changed; keeps anonymous volumes /data, /img" in plan, plan
    stack("up", "-d", env={"MARK": "two"})
    second = _app_id(stack)
    assert second != first                                     # recreated ...
    assert stack.exec("app", "cat /img/file /data/file").stdout == "img\ndata\n"   # ... with its data
    assert stack.exec("app", "echo $MARK").stdout == "two\n"
    assert _project_volumes(stackup_root) == volumes           # the same volumes, no new ones

    stack("up", "-d", "-V", env={"MARK": "three"})
    assert _app_id(stack) != second
    assert stack.exec("app", "ls -A /img /data").stdout.split() == ["/data:", "/img:"]   # fresh, empty
    renewed = _project_volumes(stackup_root)
    # as compose: the replaced container's volumes are left (labelled: `down -v` takes them)
    assert volumes < renewed and len(renewed) == 4, renewed

    stack("down", "-v", env={"MARK": "three"})
    assert _project_volumes(stackup_root) == set()
