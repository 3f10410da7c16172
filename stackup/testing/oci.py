"""OCI image layouts built by hand, for tests: multi-layer images, multi-platform indexes.

    layout = OciLayout(tmp_path / "oci")
    amd = layout.image([layer1_tar, layer2_tar], platform=("linux", "amd64"))
    arm = layout.image([other_tar], platform=("linux", "arm64", "v8"))
    att = layout.attestation(amd)
    layout.index([amd, arm, att], tag="multi")

The layout is what `skopeo copy oci:DIR:TAG docker://...` reads, so tests can put
images on a real registry with an independent client.
"""

from __future__ import annotations

import json
from pathlib import Path

from stackup.engine.images import digest as dg
from stackup.engine.images import mediatypes as mt
from stackup.testing.layers import gzip_bytes, zstd_bytes


class OciLayout:
    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.manifests: list[dict] = []

    def blob(self, data: bytes, media_type: str) -> dict:
        digest = dg.of_bytes(data)
        (self.root / "blobs" / "sha256" / dg.hex_of(digest)).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def image(self, layers: list[bytes], platform: tuple[str, ...] = ("linux", "amd64"),
              config: dict | None = None, compression: str = "gzip", tag: str | None = None) -> dict:
        """Store an image of uncompressed layer tars; returns its manifest descriptor."""
        compress, media = {"gzip": (gzip_bytes, mt.OCI_LAYER_GZIP), "zstd": (zstd_bytes, mt.OCI_LAYER_ZSTD),
                           "none": (lambda b: b, mt.OCI_LAYER)}[compression]
        layer_descs = [self.blob(compress(data), media) for data in layers]
        doc = {"architecture": platform[1], "os": platform[0], "created": "2024-01-01T00:00:00Z",
               "config": config or {"Cmd": ["/bin/sh"]},
               "rootfs": {"type": "layers", "diff_ids": [dg.of_bytes(d) for d in layers]},
               "history": [{"created_by": f"layer {i}"} for i in range(len(layers))]}
        if len(platform) > 2:
            doc["variant"] = platform[2]
        config_desc = self.blob(json.dumps(doc).encode(), mt.OCI_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": config_desc,
                    "layers": layer_descs}
        desc = self.blob(json.dumps(manifest).encode(), mt.OCI_MANIFEST)
        desc["platform"] = dict(zip(("os", "architecture", "variant"), platform))
        if tag:
            self._add(desc, tag)
        return desc

    def attestation(self, subject: dict) -> dict:
        """An in-toto attestation manifest as buildx attaches it (platform unknown/unknown)."""
        statement = self.blob(b'{"_type":"https://in-toto.io/Statement/v0.1"}', "application/vnd.in-toto+json")
        config_desc = self.blob(b'{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers",'
                                b'"diff_ids":["' + statement["digest"].encode() + b'"]}}', mt.OCI_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": config_desc,
                    "layers": [statement]}
        desc = self.blob(json.dumps(manifest).encode(), mt.OCI_MANIFEST)
        desc["platform"] = {"os": "unknown", "architecture": "unknown"}
        desc["annotations"] = {"vnd.docker.reference.type": "attestation-manifest",
                               "vnd.docker.reference.digest": subject["digest"]}
        return desc

    def index(self, manifests: list[dict], tag: str) -> dict:
        doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
        desc = self.blob(json.dumps(doc).encode(), mt.OCI_INDEX)
        self._add(desc, tag)
        return desc

    def _add(self, desc: dict, tag: str) -> None:
        entry = {k: v for k, v in desc.items() if k != "platform"}
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.manifests.append(entry)
        (self.root / "index.json").write_text(json.dumps(
            {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": self.manifests}))
