"""Pulling an image: manifest (via an index, for the host's platform), config, layers.

Every blob is verified against its digest as it is written; every layer against
its diff_id as it is unpacked. Layers download and unpack in parallel (bounded), each
in a child process of its own (see forked.py) reporting to the pull's Progress, into
temporary directories; they are installed together after one syncfs (see
layers.LayerBatch). Mirrors configured for a name are tried first (mirrors.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json

from stackup.engine.images import digest as dg
from stackup.engine.images import forked
from stackup.engine.images import mediatypes as mt
from stackup.engine.images import platform as plat
from stackup.engine.images.errors import DigestMismatchError, ImageError, RegistryError, UnsafeLayerError
from stackup.engine.images.layers import LayerBatch
from stackup.engine.images.progress import Progress
from stackup.engine.images.reference import Reference, parse_reference
from stackup.engine.images.registry import RegistryClient, RegistrySettings
from stackup.engine.images.store import Image, ImageStore
from stackup.errors import NotFoundError, UnsupportedError, UserError

MAX_PARALLEL = 3
ATTESTATION_TYPE = "attestation-manifest"


def is_attestation(descriptor: dict) -> bool:
    annotations = descriptor.get("annotations") or {}
    p = descriptor.get("platform") or {}
    return annotations.get("vnd.docker.reference.type") == ATTESTATION_TYPE or \
        p.get("os") == "unknown" or p.get("architecture") == "unknown"


def select_manifest(index: dict, platform: plat.Platform, what: str) -> dict:
    """The index entry for `platform` (attestations skipped; an exact variant preferred)."""
    entries = [d for d in index.get("manifests", []) if not is_attestation(d)]
    matching = [d for d in entries if platform.matches(d.get("platform"))]
    if not matching:
        available = sorted({str(plat.Platform(d.get("platform", {}).get("os", "?"),
                                              d.get("platform", {}).get("architecture", "?"),
                                              d.get("platform", {}).get("variant", "")))
                            for d in entries})
        raise NotFoundError(f"{what}: no image for {platform} (available: {', '.join(available) or 'none'})")
    exact = [d for d in matching if (d["platform"].get("variant") or "") == platform.variant]
    return (exact or matching)[0]


class ChunkReader:
    """A file-like reader over an iterator of chunks, handing each chunk to `sink` as it arrives.

    A read of at least a whole chunk returns the chunk itself (no copy)."""

    def __init__(self, chunks, sink):
        self._chunks = iter(chunks)
        self._sink = sink
        self._chunk = b""
        self._pos = 0
        self._done = False

    def _fill(self) -> bool:
        while self._pos >= len(self._chunk) and not self._done:
            try:
                data = next(self._chunks)
            except StopIteration:
                self._done = True
                return False
            self._sink(data)
            self._chunk, self._pos = data, 0
        return self._pos < len(self._chunk)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while self._fill():
                parts.append(self._chunk[self._pos:])
                self._chunk = b""
            return b"".join(parts)
        if not self._fill():
            return b""
        chunk, pos = self._chunk, self._pos
        if pos == 0 and len(chunk) <= n:
            self._chunk = b""
            return chunk
        self._pos = min(pos + n, len(chunk))
        return chunk[pos:self._pos]

    def drain(self) -> None:
        while self._fill():
            self._chunk = b""

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close:
            close()


class Puller:
    def __init__(self, store: ImageStore, client: RegistryClient, progress: Progress,
                 platform: plat.Platform, parallel: int = MAX_PARALLEL):
        self.batch: LayerBatch | None = None
        self.store = store
        self.client = client
        self.progress = progress
        self.platform = platform
        self.parallel = max(1, parallel)

    def _fetch_blob(self, repo: str, digest: str, size: int | None, what: str, key: str | None = None) -> None:
        if self.store.blobs.has(digest):
            return
        writer = self.store.blobs.writer()
        try:
            for chunk in self.client.blob_chunks(repo, digest):
                writer.write(chunk)
                if key:
                    self.progress.advance(key, len(chunk))
            if size is not None and writer.size != size:
                raise DigestMismatchError(f"{what} {digest}: got {writer.size} bytes, the manifest says {size}")
            writer.commit(digest, what)
        finally:
            writer.abort()

    def _manifest(self, repo: str, reference: str, expected: str | None) -> tuple[bytes, str, str]:
        body, media, _ = self.client.get_manifest(repo, reference)
        actual = dg.of_bytes(body)
        if expected and actual != expected:
            raise DigestMismatchError(f"manifest {repo}@{expected} is corrupt: content hashes to {actual}")
        return body, media, actual

    def _missing(self, desc: dict, chain: str) -> bool:
        """Whether the layer's blob or its files are missing; if neither, says so."""
        digest = dg.check(desc["digest"])
        if self.store.blobs.has(digest) and self.store.layers.has(chain):
            self.progress.finish(dg.hex_of(digest)[:12], "Already exists")
            return False
        return True

    def _prepare_children(self) -> None:
        """Load what a layer job loads on use, before forking its child (see forked.py)."""
        import tempfile  # noqa: F401 - the blob writer and the layer store use it

        from stackup.engine.images import compression, diskio, unpack  # noqa: F401

        diskio.prepare()
        self.store.layers.prepare()

    def _layer_job(self, repo: str, desc: dict, diff_id: str, chain: str, parent: str | None,
                   progress: Progress) -> list:
        """Fetch one layer in a child process (forked.run): the layers it leaves ready to install."""
        with self.client.twin() as client, LayerBatch(self.store.layers) as batch:
            child = Puller(self.store, client, progress, self.platform)
            child.batch = batch
            child._layer(repo, desc, diff_id, chain, parent)
            return batch.take()

    def _layer(self, repo: str, desc: dict, diff_id: str, chain: str, parent: str | None) -> None:
        if not self._missing(desc, chain):  # another process may have added it meanwhile
            return
        digest = dg.check(desc["digest"])
        key = dg.hex_of(digest)[:12]
        have_blob, have_layer = self.store.blobs.has(digest), self.store.layers.has(chain)
        if desc.get("mediaType") and desc["mediaType"] not in mt.LAYERS:
            raise UnsupportedError(f"layer {digest} has unsupported media type {desc['mediaType']!r}")
        if have_blob or have_layer:
            # Half there (e.g. unpacked for another image): fetch or unpack the missing half.
            self.progress.start(key, "Downloading", desc.get("size"))
            self._fetch_blob(repo, digest, desc.get("size"), "layer", key)
            self.store.layers.unpack(self.store.blobs.path(digest), diff_id, chain, parent,
                                     what=f"layer {digest}", blob_digest=digest, batch=self.batch)
            self.progress.finish(key, "Pull complete")
            return
        # Download and unpack in one pass: the bytes go to the blob store and the unpacker
        # at once; the blob is verified before the layer is installed.
        self.progress.start(key, "Downloading", desc.get("size"))
        writer = self.store.blobs.writer()
        size = desc.get("size")

        def sink(chunk: bytes) -> None:
            writer.write(chunk)
            self.progress.advance(key, len(chunk))

        source = ChunkReader(self.client.blob_chunks(repo, digest), sink)

        def finish() -> None:
            source.drain()
            if size is not None and writer.size != size:
                raise DigestMismatchError(f"layer {digest}: got {writer.size} bytes, the manifest says {size}")
            writer.commit(digest, "layer")

        try:
            self.store.layers.unpack_stream(source, diff_id, chain, parent, f"layer {digest}", finish,
                                            batch=self.batch)
            if not self.store.blobs.has(digest):  # the layer appeared meanwhile: still keep the blob
                finish()
        except (ImageError, UnsafeLayerError) as exc:
            # A corrupt download often breaks the decompressor first; name the real cause.
            if not isinstance(exc, DigestMismatchError):
                with contextlib.suppress(Exception):
                    source.drain()
                if writer.digest() != digest:
                    raise DigestMismatchError(f"layer {digest} is corrupt: its content hashes to "
                                              f"{writer.digest()}") from exc
            raise
        finally:
            writer.abort()
            source.close()
        self.progress.finish(key, "Pull complete")

    def pull(self, ref: Reference, source: Reference | None = None) -> Image:
        """Pull `ref`, fetched as `source` names it on the client's registry (a mirror's or a
        redirection's name for it; default `ref` itself), and store it under `ref`."""
        source = source or ref
        repo = source.repository
        what = ref.familiar()
        body, media, top_digest = self._manifest(repo, source.digest or source.tag or "latest", source.digest)
        extra: list[str] = []
        if media in mt.INDEXES:
            chosen = select_manifest(json.loads(body), self.platform, what)
            extra.append(self.store.blobs.put_bytes(body, top_digest))
            body, media, _ = self._manifest(repo, chosen["digest"], dg.check(chosen["digest"]))
        if media not in mt.MANIFESTS:
            raise UnsupportedError(f"{what}: unsupported manifest type {media!r} "
                                   "(schema 1 images are not supported)")
        manifest = json.loads(body)
        config_desc = manifest["config"]
        config_digest = dg.check(config_desc["digest"])
        self._fetch_blob(repo, config_digest, config_desc.get("size"), "config")
        config = json.loads(self.store.blobs.read(config_digest))
        diff_ids = list(config.get("rootfs", {}).get("diff_ids", []))
        layers = manifest.get("layers", [])
        if len(diff_ids) != len(layers):
            raise ImageError(f"{what}: {len(layers)} layers but {len(diff_ids)} diff_ids in its config")
        chains = dg.chain_ids(diff_ids)
        jobs = [functools.partial(self._layer_job, repo, desc, diff_id, chain, chains[n - 1] if n else None)
                for n, (desc, diff_id, chain) in enumerate(zip(layers, diff_ids, chains))
                if self._missing(desc, chain)]
        # Layers unpack in parallel and are installed together: one syncfs for all of them.
        with LayerBatch(self.store.layers) as batch:
            if jobs:
                self._prepare_children()
            forked.run(jobs, self.parallel, self.progress, take=batch.adopt)
            batch.install()
        manifest_digest = self.store.blobs.put_bytes(body)
        refs = [] if ref.digest else [ref.normalized()]  # as Docker: a digest pull adds no name
        image = self.store.register(manifest_digest, refs, [f"{ref.name}@{top_digest}"], extra)
        self.progress.message(f"Digest: {top_digest}")
        return image


def pull(store: ImageStore, ref: str, platform: plat.Platform | None = None,
         settings: RegistrySettings | None = None, progress: Progress | None = None,
         parallel: int = MAX_PARALLEL) -> Image:
    """Pull `ref` into `store` and return the image: from its mirrors first, in order, then
    from where it lives (see mirrors.py)."""
    parsed = parse_reference(ref)
    settings = settings or RegistrySettings.load()
    progress = progress or Progress()
    platform = platform or plat.host()
    sources = settings.registries.sources(parsed, settings.mirrors)
    last: Exception | None = None
    with store.adding():
        for n, source in enumerate(sources):
            try:
                client_settings = settings if not source.insecure else \
                    dataclasses.replace(settings, insecure=[*settings.insecure, source.reference.registry])
                with RegistryClient(source.reference.registry, client_settings,
                                    endpoint=source.endpoint) as client:
                    via = f" from mirror {source.describe()}" if source.mirror else \
                        f" from {source.describe()}" if source.reference.name != parsed.name else ""
                    progress.message(f"Pulling {parsed.familiar()}{via}")
                    image = Puller(store, client, progress, platform, parallel).pull(parsed, source.reference)
                progress.message(f"Status: downloaded {parsed.familiar()}")
                return image
            except (RegistryError, NotFoundError) as exc:
                if n == len(sources) - 1:
                    raise
                last = exc
                progress.message(f"{'mirror ' if source.mirror else ''}{source.describe()} failed ({exc}); "
                                 "trying the next source")
    raise last or UserError(f"cannot pull {ref}")
