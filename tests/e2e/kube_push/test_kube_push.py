"""`kube generate --push REGISTRY` pushes the stack's images with stackup's own push
and the manifests name them by the digest the registry serves."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from stackup.testing.registry import REGISTRY_BIN, LocalRegistry
from stackup.testing.stack import BUSYBOX_REF

pytestmark = [pytest.mark.root, pytest.mark.skipif(not REGISTRY_BIN.exists(), reason="docker-registry missing")]
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json")


def test_push_names_images_by_digest(stack, tmp_path):
    with LocalRegistry(tmp_path / "registry", auth="none") as reg:
        generated = stack("kube", "generate", "--push", f"{reg.host}/team")
        documents = list(yaml.safe_load_all(generated.stdout))
        (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        name, _, digest = image.partition("@")
        assert name == f"{reg.host}/team/busybox" and digest.startswith("sha256:")
        served = httpx.head(f"http://{reg.host}/v2/team/busybox/manifests/latest",
                            headers={"Accept": MANIFEST_TYPES})
        assert served.status_code == 200 and served.headers["Docker-Content-Digest"] == digest
        (local,) = json.loads(stack("image", "inspect", BUSYBOX_REF).stdout)
        stack("image", "rm", f"{reg.host}/team/busybox:latest")
        stack("image", "pull", image)
        (pulled,) = json.loads(stack("image", "inspect", image).stdout)
        assert pulled["Id"] == local["Id"]
        missing = stack("-f", "-", "kube", "generate", "--push", reg.host, check=False,
                        input="services:\n  a:\n    image: not/here:1\n")
        assert missing.returncode == 2
        assert "image not/here:1 is not in the local store" in missing.stderr and "Traceback" not in missing.stderr
