"""Pushing an image: blobs the registry lacks (HEAD first), then the manifest, byte for byte.

The manifest pushed is the exact stored manifest, so the image's digest on the
registry is the digest stackup knows it by, and any client pulls the same bytes.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from stackup.engine.images import digest as dg
from stackup.engine.images.progress import Progress
from stackup.engine.images.reference import parse_reference
from stackup.engine.images.registry import RegistryClient, RegistrySettings
from stackup.engine.images.store import ImageStore
from stackup.errors import NotFoundError, UserError

MAX_PARALLEL = 3


def push(store: ImageStore, ref: str, settings: RegistrySettings | None = None,
         progress: Progress | None = None, parallel: int = MAX_PARALLEL) -> str:
    """Push the image named `ref` to the registry its name points at; return the manifest digest."""
    parsed = parse_reference(ref)
    if parsed.digest:
        raise UserError(f"cannot push to a digest reference: {ref!r} (push by name[:tag])")
    image = store.resolve(ref)
    progress = progress or Progress()
    settings = settings or RegistrySettings.load()
    manifest_bytes = store.blobs.read(image.manifest_digest)
    manifest = json.loads(manifest_bytes)
    blobs = [manifest["config"]] + list(manifest.get("layers", []))
    for desc in blobs:
        if not store.blobs.has(desc["digest"]):
            raise NotFoundError(f"cannot push {ref}: blob {desc['digest']} is missing from the store")
    repo = parsed.repository
    progress.message(f"The push refers to repository [{parsed.name}]")
    with RegistryClient(parsed.registry, settings) as client:
        def send(desc: dict) -> None:
            digest = dg.check(desc["digest"])
            key = dg.hex_of(digest)[:12]
            if client.has_blob(repo, digest):
                progress.finish(key, "Layer already exists")
                return
            progress.start(key, "Pushing", desc.get("size"))
            path = store.blobs.path(digest)
            client.upload_blob(repo, digest, path.stat().st_size, lambda: open(path, "rb"))
            progress.finish(key, "Pushed")

        # The first blob alone, so the token for this scope is fetched once, not by every thread.
        send(blobs[0])
        with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="push") as pool:
            errors = [f.exception() for f in [pool.submit(send, d) for d in blobs[1:]]]
        for error in errors:
            if error is not None:
                raise error
        tag = parsed.tag or "latest"
        media = manifest.get("mediaType") or image.manifest_media_type
        client.put_manifest(repo, tag, manifest_bytes, media)
    store.add_repo_digest(image.id, f"{parsed.name}@{image.manifest_digest}")
    progress.message(f"{tag}: digest: {image.manifest_digest} size: {len(manifest_bytes)}")
    return image.manifest_digest
