"""`up` pulls the images it is missing, as compose does: here two images that share their
one layer, pulled at once (the executor's threads, each pull's layer processes forked
beside them); the layer is stored once, nothing temporary is left, `down` keeps the images."""

import json
import os

import pytest

from stackup.testing.registry import REGISTRY_BIN, LocalRegistry
from stackup.testing.stack import BUSYBOX_REF, busybox_tar

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not REGISTRY_BIN.exists(), reason="docker-registry missing")]


def test_up_pulls_the_missing_images_and_down_keeps_them(stack, busybox_cache, tmp_path):
    with LocalRegistry(tmp_path / "registry", auth="none") as reg:
        web, worker = f"{reg.host}/e2e/web:1", f"{reg.host}/e2e/worker:1"
        stack("image", "tag", BUSYBOX_REF, web)
        # the same root filesystem with another CMD: another image, the same layer blob
        stack("image", "import", str(busybox_tar(busybox_cache)), worker, "--change", 'CMD ["ls"]')
        for name in (web, worker):
            stack("image", "push", name)
        stack("image", "rm", web, worker, BUSYBOX_REF)
        layers = stack.root / "images" / "layers"
        assert os.listdir(layers) == []

        stack.env["REGISTRY"] = reg.host  # compose.yaml names the images by it
        up = stack("up", "-d")
        assert "Traceback" not in up.stderr
        assert {row["Service"]: row["State"] for row in stack.ps()} == {"web": "running", "worker": "running"}
        inspected = json.loads(stack("image", "inspect", web, worker).stdout)
        assert [doc["RootFS"]["Layers"] for doc in inspected] == [inspected[0]["RootFS"]["Layers"]] * 2
        (diff_id,) = inspected[0]["RootFS"]["Layers"]
        assert os.listdir(layers) == [diff_id.split(":")[1]]  # once, and nothing temporary
        assert os.listdir(stack.root / "images" / "blobs" / "tmp") == []

        stack("down", "-v")
        assert stack.wait_gone() == []
        listed = [json.loads(line) for line in stack("image", "ls", "--format", "json").stdout.splitlines()]
        assert sorted(f"{i['Repository']}:{i['Tag']}" for i in listed) == sorted([web, worker])
