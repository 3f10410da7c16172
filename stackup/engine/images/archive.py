"""Image archives: `docker save` tarballs and OCI image-layout tarballs, in and out.

`load` reads either kind (an OCI layout is recognised by index.json; a docker
save archive by manifest.json), gzip- or zstd-compressed or not. Every blob is
copied into the store and verified on the way.

`save` writes one tar that is both: an OCI image layout (oci-layout, index.json,
blobs/sha256/...) and a docker save archive (manifest.json naming the same
blobs), as Docker 25+ does, so docker load, podman load, skopeo and stackup
all read it. The stored manifests are written unchanged, keeping their digests.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Literal

from stackup.engine.images import digest as dg
from stackup.engine.images import mediatypes as mt
from stackup.engine.images import platform as plat
from stackup.engine.images.compression import GZIP_MAGIC, open_uncompressed
from stackup.engine.images.errors import ImageError
from stackup.engine.images.pull import select_manifest
from stackup.engine.images.reference import parse_reference
from stackup.engine.images.store import Image, ImageStore
from stackup.errors import NotFoundError, UserError

CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"


@dataclass
class Loaded:
    image: Image
    names: list[str]


class _Archive:
    """Random access to the members of a (possibly compressed) tar file."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        except FileNotFoundError:
            raise NotFoundError(f"{path}: no such file") from None
        head = self._raw.read(4)
        self._raw.seek(0)
        mode: Literal["r:gz", "r:"] = "r:gz" if head.startswith(GZIP_MAGIC) else "r:"
        fileobj: BinaryIO = self._raw
        if head == b"\x28\xb5\x2f\xfd":
            fileobj = io.BytesIO(open_uncompressed(self._raw, str(path)).read())
            mode = "r:"
        try:
            self._tar = tarfile.open(fileobj=fileobj, mode=mode)
            self._members = {posixpath.normpath(m.name.lstrip("/")): m for m in self._tar.getmembers()
                             if m.isreg() or m.islnk() or m.issym()}
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise UserError(f"{path}: not an image archive (cannot read it as tar: {exc})") from None

    def has(self, name: str) -> bool:
        return posixpath.normpath(name) in self._members

    def open(self, name: str) -> IO[bytes]:
        member = self._members.get(posixpath.normpath(name.lstrip("/")))
        if member is None:
            raise UserError(f"{self.path}: archive lacks {name!r}")
        stream = self._tar.extractfile(member)
        if stream is None:
            raise UserError(f"{self.path}: {name!r} is not a file")
        return stream

    def read(self, name: str) -> bytes:
        return self.open(name).read()

    def json(self, name: str):
        try:
            return json.loads(self.read(name))
        except ValueError:
            raise UserError(f"{self.path}: {name} is not valid JSON") from None

    def close(self) -> None:
        self._tar.close()
        self._raw.close()


def _blob_path(digest: str) -> str:
    return f"blobs/sha256/{dg.hex_of(digest)}"


def _copy_blob(store: ImageStore, archive: _Archive, digest: str, what: str) -> None:
    if not store.blobs.has(digest):
        with archive.open(_blob_path(digest)) as stream:
            store.blobs.put_stream(stream, expected=digest)


def _load_oci(store: ImageStore, archive: _Archive, platform: plat.Platform) -> list[Loaded]:
    index = archive.json("index.json")
    loaded = []
    for desc in index.get("manifests", []):
        annotations = desc.get("annotations") or {}
        name = annotations.get(CONTAINERD_NAME) or annotations.get(OCI_REF_NAME) or ""
        refs = []
        if name:
            try:
                parsed = parse_reference(name)
                if "/" in name or ":" in name or CONTAINERD_NAME in annotations:
                    refs = [parsed.normalized()]
            except UserError:
                refs = []  # an OCI ref.name that is only a tag names no repository
        digest = dg.check(desc["digest"])
        extra = []
        body = archive.read(_blob_path(digest))
        if dg.of_bytes(body) != digest:
            raise ImageError(f"{archive.path}: manifest {digest} is corrupt")
        media = desc.get("mediaType") or mt.detect(json.loads(body))
        if media in mt.INDEXES:
            store.blobs.put_bytes(body, digest)
            extra.append(digest)
            digest = dg.check(select_manifest(json.loads(body), platform, str(archive.path))["digest"])
            body = archive.read(_blob_path(digest))
        manifest_digest = store.blobs.put_bytes(body, digest)
        manifest = json.loads(body)
        for blob in [manifest["config"]] + manifest.get("layers", []):
            _copy_blob(store, archive, dg.check(blob["digest"]), "blob")
        image = store.register(manifest_digest, refs, extra_blobs=extra)
        loaded.append(Loaded(image, refs))
    return loaded


def _load_docker(store: ImageStore, archive: _Archive) -> list[Loaded]:
    entries = archive.json("manifest.json")
    if not isinstance(entries, list):
        raise UserError(f"{archive.path}: manifest.json is not a list of images")
    loaded = []
    for entry in entries:
        config_bytes = archive.read(entry["Config"])
        config_digest = store.blobs.put_bytes(config_bytes)
        layers = []
        for layer_name in entry.get("Layers", []):
            with archive.open(layer_name) as stream:
                head = stream.read(4)
                writer = store.blobs.writer()
                try:
                    writer.write(head)
                    while chunk := stream.read(1 << 20):
                        writer.write(chunk)
                    digest, size = writer.commit()
                finally:
                    writer.abort()
            media = mt.OCI_LAYER_GZIP if head.startswith(GZIP_MAGIC) else \
                mt.OCI_LAYER_ZSTD if head == b"\x28\xb5\x2f\xfd" else mt.OCI_LAYER
            layers.append({"mediaType": media, "digest": digest, "size": size})
        manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                    "config": {"mediaType": mt.OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
                    "layers": layers}
        manifest_digest = store.blobs.put_bytes(json.dumps(manifest, separators=(",", ":")).encode())
        refs = [parse_reference(t).normalized() for t in entry.get("RepoTags") or []]
        loaded.append(Loaded(store.register(manifest_digest, refs), refs))
    return loaded


def load(store: ImageStore, path: Path, platform: plat.Platform | None = None) -> list[Loaded]:
    """Load every image of a docker save or OCI layout archive into `store`."""
    archive = _Archive(Path(path))
    try:
        with store.adding():
            if archive.has("index.json") and archive.has("oci-layout"):
                return _load_oci(store, archive, platform or plat.host())
            if archive.has("manifest.json"):
                return _load_docker(store, archive)
            raise UserError(f"{path}: neither a docker save archive (manifest.json) "
                            "nor an OCI image layout (oci-layout, index.json)")
    except (KeyError, TypeError) as exc:
        raise UserError(f"{path}: malformed image archive (missing {exc})") from None
    finally:
        archive.close()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def save(store: ImageStore, refs: list[str], out: BinaryIO) -> None:
    """Write the named images to `out` as one docker-save + OCI-layout tar."""
    images = [(ref, store.resolve(ref)) for ref in refs]
    written: set[str] = set()
    index_entries, docker_entries = [], []
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("blobs")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        info = tarfile.TarInfo("blobs/sha256")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for ref, image in images:
            manifest_bytes = store.blobs.read(image.manifest_digest)
            manifest = json.loads(manifest_bytes)
            for desc in [manifest["config"]] + manifest.get("layers", []):
                digest = dg.check(desc["digest"])
                if digest in written:
                    continue
                path = store.blobs.path(digest)
                if not path.is_file():
                    raise NotFoundError(f"cannot save {ref}: blob {digest} is missing from the store")
                info = tarfile.TarInfo(_blob_path(digest))
                info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
                with open(path, "rb") as f:
                    tar.addfile(info, f)
                written.add(digest)
            if image.manifest_digest not in written:
                _add_bytes(tar, _blob_path(image.manifest_digest), manifest_bytes)
                written.add(image.manifest_digest)
            try:
                named = parse_reference(ref)
                names = [named.normalized()] if named.normalized() in image.references else image.references
            except UserError:
                names = image.references
            media = manifest.get("mediaType") or image.manifest_media_type
            for name in names or (None,):
                entry = {"mediaType": media, "digest": image.manifest_digest, "size": len(manifest_bytes)}
                if name:
                    entry["annotations"] = {CONTAINERD_NAME: name,
                                            OCI_REF_NAME: parse_reference(name).tag or "latest"}
                index_entries.append(entry)
            docker_entries.append({
                "Config": _blob_path(image.id),
                "RepoTags": [parse_reference(n).familiar() for n in names],
                "Layers": [_blob_path(d["digest"]) for d in manifest.get("layers", [])],
            })
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add_bytes(tar, "index.json", json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                                  "manifests": index_entries}).encode())
        _add_bytes(tar, "manifest.json", json.dumps(docker_entries).encode())
