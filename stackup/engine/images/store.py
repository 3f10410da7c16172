"""The local image store: blobs, unpacked layers, and the index of images and their names.

    images/blobs/sha256/<hex>     manifests, configs, compressed layers (content-addressed)
    images/layers/<chain hex>/    each layer unpacked once, shared by the images that have it
    images/index.json             image id -> manifest, names, repo digests, chain ids, size;
                                  and pins: blobs and layers kept for an owner (the build cache)

An image's id is the digest of its config. A name (normalized reference with a tag)
points at one image at a time: tagging another image with it moves it, and the old
image stays as a dangling `<none>` image until removed or pruned.

Locks: `index.lock` guards read-modify-write of index.json. `gc.lock` is held shared
by everything that adds content (pull, load, import) and exclusively by garbage
collection, so a collection never deletes blobs of an image still arriving.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from stackup.engine import checkedjson, state
from stackup.engine.images import digest as dg
from stackup.engine.images import mediatypes as mt
from stackup.engine.images import platform as plat
from stackup.engine.images.blobs import BlobStore
from stackup.engine.images.config import ImageConfig, apply_changes
from stackup.engine.images.errors import ImageError
from stackup.engine.images.layers import LayerStore
from stackup.engine.images.reference import HEX64_RE, parse_reference
from stackup.errors import ConflictError, NotFoundError, StackupError, UserError

InUse = Callable[["Image"], list[str]]


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Image:
    """An image in the store: its id (config digest), names, config, and the layers it is made of."""

    id: str
    references: list[str]
    config: ImageConfig
    manifest_digest: str
    manifest_media_type: str
    repo_digests: list[str]
    chain_ids: list[str]
    diff_ids: list[str]
    created: str
    architecture: str
    os: str
    size: int
    layers: LayerStore = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]

    def layer_dirs(self) -> list[Path]:
        """The unpacked layer directories, base first (overlayfs lowerdir wants them reversed)."""
        return [self.layers.path(chain) for chain in self.chain_ids]


class ImageStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else state.root() / "images"
        self.blobs = BlobStore(self.root / "blobs")
        self.layers = LayerStore(self.root / "layers")
        self._index_path = self.root / "index.json"

    # --- locks and the index ----------------------------------------------------------

    @contextlib.contextmanager
    def adding(self) -> Iterator[None]:
        """Hold while adding content (blobs, layers) that no image references yet.

        Leftovers of work that was killed midway (temp files, half-unpacked layers) are
        swept first when no one else is adding. When the work fails, what it stored is
        collected again at once (unless another process is adding too: then the next
        collection takes it).
        """
        self.sweep_leftovers()
        try:
            with state.locked(self.root / "gc.lock", shared=True):
                yield
        except BaseException:
            with contextlib.suppress(OSError, StackupError):
                self.gc(wait=False)
            raise

    def _index(self) -> dict:
        """The index of images. A damaged one is an error that names it, not set aside: the
        images it maps are not in the kernel to rebuild it from, and without it a gc would
        take every layer and blob for unused."""
        index = checkedjson.read(str(self._index_path), _index_problem)
        return index if isinstance(index, dict) else {"images": {}}

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict]:
        with state.locked(self.root / "index.lock"):
            index = self._index()
            yield index
            state.atomic_write_json(self._index_path, index)

    def _image(self, image_id: str, entry: dict) -> Image:
        try:
            doc = json.loads(self.blobs.read(image_id))
        except NotFoundError:
            raise ImageError(f"image {image_id} is damaged: its config blob is missing") from None
        return Image(
            id=image_id, references=list(entry.get("references", [])),
            config=ImageConfig.from_oci(doc.get("config")),
            manifest_digest=entry["manifest"], manifest_media_type=entry.get("media_type", mt.OCI_MANIFEST),
            repo_digests=list(entry.get("repo_digests", [])), chain_ids=list(entry["chain_ids"]),
            diff_ids=list(doc.get("rootfs", {}).get("diff_ids", [])),
            created=doc.get("created") or "", architecture=doc.get("architecture", ""),
            os=doc.get("os", ""), size=int(entry.get("size", 0)), layers=self.layers)

    # --- reading -----------------------------------------------------------------------

    def list(self) -> list[Image]:
        images = self._index()["images"]
        return sorted((self._image(i, e) for i, e in images.items()),
                      key=lambda im: (im.created, im.id), reverse=True)

    def get(self, image_id: str) -> Image:
        entry = self._index()["images"].get(image_id)
        if entry is None:
            raise NotFoundError(f"no such image: {image_id}")
        return self._image(image_id, entry)

    def resolve(self, ref: str) -> Image:
        """The image named `ref`: name[:tag], name@digest, full id or an unambiguous id prefix."""
        images = self._index()["images"]
        parse_error: UserError | None = None
        try:
            parsed = parse_reference(ref)
        except UserError as exc:
            parsed, parse_error = None, exc
        if parsed is not None:
            wanted = parsed.normalized()
            for image_id, entry in images.items():
                if wanted in entry.get("references", []) or wanted in entry.get("repo_digests", []):
                    return self._image(image_id, entry)
            if parsed.digest:
                for image_id, entry in images.items():
                    names = {parse_reference(r).name for r in entry.get("references", [])}
                    if entry["manifest"] == parsed.digest and parsed.name in names:
                        return self._image(image_id, entry)
        hexpart = ref[len("sha256:"):] if ref.startswith("sha256:") else ref
        if hexpart and all(c in "0123456789abcdef" for c in hexpart) and len(hexpart) <= 64:
            found = [i for i in images if i[len("sha256:"):].startswith(hexpart)]
            if len(found) == 1:
                return self._image(found[0], images[found[0]])
            if len(found) > 1:
                raise UserError(f"image id prefix {ref!r} is ambiguous: {len(found)} images match")
        if parse_error is not None and not HEX64_RE.fullmatch(hexpart):
            raise parse_error
        raise NotFoundError(f"no such image: {ref}")

    def exists(self, ref: str) -> bool:
        try:
            self.resolve(ref)
            return True
        except NotFoundError:
            return False

    def manifest(self, image: Image) -> dict:
        return json.loads(self.blobs.read(image.manifest_digest))

    def config_document(self, image: Image) -> dict:
        return json.loads(self.blobs.read(image.id))

    # --- adding ------------------------------------------------------------------------

    def register(self, manifest_digest: str, references: Sequence[str] = (),
                 repo_digests: Sequence[str] = (), extra_blobs: Sequence[str] = ()) -> Image:
        """Record the image whose manifest (and config and layer blobs) are already stored.

        Unpacks any layer not yet unpacked, then adds the image to the index and points
        `references` at it. `extra_blobs` (e.g. the index a manifest was picked from)
        are kept for as long as the image is.
        """
        manifest = json.loads(self.blobs.read(manifest_digest))
        media_type = mt.detect(manifest)
        if media_type not in mt.MANIFESTS:
            raise ImageError(f"manifest {manifest_digest} has unsupported media type {media_type!r}")
        config_digest = dg.check(manifest["config"]["digest"])
        config = json.loads(self.blobs.read(config_digest))
        diff_ids = list(config.get("rootfs", {}).get("diff_ids", []))
        descriptors = manifest.get("layers", [])
        if len(diff_ids) != len(descriptors):
            raise ImageError(f"image {config_digest}: {len(descriptors)} layers but "
                             f"{len(diff_ids)} diff_ids in its config")
        chains = dg.chain_ids(diff_ids)
        size = 0
        for n, (desc, diff_id, chain) in enumerate(zip(descriptors, diff_ids, chains)):
            blob_digest = dg.check(desc["digest"])
            if not self.blobs.has(blob_digest):
                raise ImageError(f"layer {blob_digest} of image {config_digest} is missing")
            self.layers.unpack(self.blobs.path(blob_digest), diff_id, chain,
                               chains[n - 1] if n else None, what=f"layer {blob_digest}",
                               blob_digest=blob_digest)
            size += int(self.layers.meta(chain).get("size", 0))
        normalized = [parse_reference(r).normalized() for r in references]
        with self._editing() as index:
            images = index["images"]
            for other in images.values():
                other["references"] = [r for r in other.get("references", []) if r not in normalized]
            entry = images.setdefault(config_digest, {"references": [], "repo_digests": [],
                                                      "added": now_rfc3339()})
            entry.update(manifest=manifest_digest, media_type=media_type, chain_ids=chains, size=size)
            entry["references"] = sorted(set(entry["references"]) | set(normalized))
            entry["repo_digests"] = sorted(set(entry.get("repo_digests", [])) | set(repo_digests))
            entry["extra_blobs"] = sorted(set(entry.get("extra_blobs", [])) | set(extra_blobs))
            return self._image(config_digest, entry)

    def write_image(self, config_doc: dict, layer_blobs: Sequence[tuple[str, int, str]],
                    references: Sequence[str] = ()) -> Image:
        """Store a config and an OCI manifest over already-stored layer blobs, then register.

        `layer_blobs` are (digest, size, media type) of each layer, base first.
        """
        config_bytes = canonical_json(config_doc)
        config_digest = dg.of_bytes(config_bytes)
        known = self._unchanged(config_digest, references)
        if known is not None:  # a rebuild that changed nothing: no write, no fsync
            return known
        self.blobs.put_bytes(config_bytes, config_digest)
        manifest = {
            "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": media, "digest": d, "size": s} for d, s, media in layer_blobs],
        }
        manifest_digest = self.blobs.put_bytes(canonical_json(manifest))
        return self.register(manifest_digest, references)

    def _unchanged(self, image_id: str, references: Sequence[str]) -> Image | None:
        """The image `image_id` if it is stored whole and every reference already names it."""
        entry = self._index()["images"].get(image_id)
        if entry is None or not self.blobs.has(image_id) or not self.blobs.has(entry["manifest"]):
            return None
        wanted = {parse_reference(r).normalized() for r in references}
        if not wanted <= set(entry.get("references", [])):
            return None
        if not all(self.layers.has(chain) for chain in entry.get("chain_ids", [])):
            return None
        return self._image(image_id, entry)

    def import_rootfs(self, tar_path: Path, ref: str, changes: Sequence[str] = (),
                      message: str = "") -> Image:
        """Make a one-layer image from a filesystem tarball (plain, gzip or zstd), like `docker import`."""
        normalized = parse_reference(ref).normalized() if ref else None
        config = apply_changes(ImageConfig(), list(changes))
        tar_path = Path(tar_path)
        try:
            raw = open(tar_path, "rb")
        except FileNotFoundError:
            raise NotFoundError(f"{tar_path}: no such file") from None
        except IsADirectoryError:
            raise UserError(f"{tar_path}: is a directory, not a tar archive") from None
        from stackup.engine.images.compression import gzip_stream, open_uncompressed

        with self.adding():
            # Stored gzip-compressed (as a registry would get it from docker push), so a
            # push sends the stored bytes and the pushed image pulls back bit for bit.
            reader = open_uncompressed(raw, what=str(tar_path))
            writer = self.blobs.writer()
            try:
                diff_id, _ = gzip_stream(reader, writer.write)
                blob, size = writer.commit(what="layer")
            finally:
                writer.abort()
                reader.close()
            host = plat.host()
            created = now_rfc3339()
            history = {"created": created, "created_by": "stackup image import"}
            if message:
                history["comment"] = message
            doc = {"architecture": host.architecture, "os": host.os, "created": created,
                   "config": config.to_oci(), "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                   "history": [history]}
            if host.variant:
                doc["variant"] = host.variant
            return self.write_image(doc, [(blob, size, mt.OCI_LAYER_GZIP)],
                                    [normalized] if normalized else [])

    # --- names -------------------------------------------------------------------------

    def tag(self, source: str, target: str) -> Image:
        image = self.resolve(source)
        name = parse_reference(target)
        if name.digest:
            raise UserError(f"cannot tag with a digest reference: {target!r}")
        wanted = name.normalized()
        with self._editing() as index:
            for entry in index["images"].values():
                entry["references"] = [r for r in entry.get("references", []) if r != wanted]
            entry = index["images"][image.id]
            entry["references"] = sorted(set(entry["references"]) | {wanted})
        return self.get(image.id)

    def add_repo_digest(self, image_id: str, repo_digest: str) -> None:
        """Remember that the registry knows this image as name@digest (after a push)."""
        with self._editing() as index:
            entry = index["images"].get(image_id)
            if entry is not None:
                entry["repo_digests"] = sorted(set(entry.get("repo_digests", [])) | {repo_digest})

    # --- pins --------------------------------------------------------------------------

    def pin(self, owner: str, name: str, blobs: Sequence[str], chains: Sequence[str]) -> None:
        """Keep `blobs` and layers `chains` from garbage collection under `owner`/`name`
        (e.g. the build cache's entry for a step), until unpinned. Pinning a name again
        replaces what it kept."""
        with self._editing() as index:
            pins = index.setdefault("pins", {}).setdefault(owner, {})
            pins[name] = {"blobs": sorted(set(blobs)), "chains": sorted(set(chains))}

    def unpin(self, owner: str, name: str) -> None:
        """Let go of what `owner`/`name` kept (collected by the next gc unless an image or
        another pin needs it)."""
        with self._editing() as index:
            pins = index.get("pins", {}).get(owner, {})
            pins.pop(name, None)
            if not pins:
                index.get("pins", {}).pop(owner, None)

    def pins(self, owner: str) -> dict[str, dict[str, builtins.list[str]]]:
        """name -> {"blobs": [...], "chains": [...]} of what `owner` keeps."""
        pins = self._index().get("pins", {}).get(owner, {})
        return {name: {"blobs": list(p.get("blobs", [])), "chains": list(p.get("chains", []))}
                for name, p in pins.items()}

    # --- removing ----------------------------------------------------------------------

    def rm(self, ref: str, force: bool = False, in_use: InUse | None = None) -> builtins.list[str]:
        """Remove a name, or an image; returns 'Untagged: …' / 'Deleted: …' lines.

        By name: the name goes; the image goes with its last name unless a container
        uses it (then ConflictError, or with force the image stays as `<none>` so the
        container keeps its layers). By id: refused when it has several names or is in
        use, unless forced.
        """
        image = self.resolve(ref)
        users = in_use(image) if in_use else []
        try:
            by_name = parse_reference(ref).normalized() in image.references
        except UserError:
            by_name = False
        lines: list[str] = []
        with self._editing() as index:
            entry = index["images"].get(image.id)
            if entry is None:
                raise NotFoundError(f"no such image: {ref}")
            refs = entry.get("references", [])
            if by_name:
                name = parse_reference(ref).normalized()
                if len(refs) > 1:
                    entry["references"] = [r for r in refs if r != name]
                    return [f"Untagged: {name}"]
                untag = [name]
            else:
                if len(refs) > 1 and not force:
                    raise ConflictError(f"unable to delete {image.short_id} (must be forced): "
                                        f"image is referenced in multiple repositories")
                untag = list(refs)
            if users and not force:
                raise ConflictError(f"unable to remove image {ref}: in use by container "
                                    f"{', '.join(users)} (use -f to untag it anyway)")
            lines += [f"Untagged: {r}" for r in untag]
            if users:
                entry["references"] = [r for r in refs if r not in untag]
                entry["repo_digests"] = []
                return lines
            lines += [f"Untagged: {r}" for r in entry.get("repo_digests", [])]
            del index["images"][image.id]
            lines.append(f"Deleted: {image.id}")
        self.gc()
        return lines

    def prune(self, all_images: bool = False, in_use: InUse | None = None) -> tuple[builtins.list[str], int]:
        """Remove images without names (all unused images with `all_images`); (lines, bytes freed)."""
        before = self.disk_usage()
        lines: list[str] = []
        candidates = [im for im in self.list() if all_images or not im.references]
        doomed = [im for im in candidates if not (in_use and in_use(im))]
        with self._editing() as index:
            for im in doomed:
                if im.id in index["images"]:
                    lines += [f"Untagged: {r}" for r in index["images"][im.id].get("references", [])]
                    del index["images"][im.id]
                    lines.append(f"Deleted: {im.id}")
        self.gc()
        return lines, max(0, before - self.disk_usage())

    def gc(self, wait: bool = True) -> None:
        """Delete blobs and layers that no image references, and leftovers of interrupted work.

        With `wait=False`, give up at once when something is being added right now.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "gc.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return
            with state.locked(self.root / "index.lock"):
                self._collect()
        finally:
            os.close(fd)

    def sweep_leftovers(self) -> bool:
        """Remove temp blobs and half-unpacked layers of killed work, if nothing is being added.

        Never waits: returns False when another process holds the gc lock.
        """
        with state.try_locked(self.root / "gc.lock") as alone:
            if alone:
                self._sweep()
            return alone

    def _sweep(self) -> None:
        """Under gc.lock held exclusively: nothing is being added, so temp files are leftovers."""
        layers, blobs = self.layers.sweep(), self.blobs.sweep_tmp()  # both, whatever the first found
        if layers or blobs:
            from stackup.engine import notices

            notices.repaired("images: removed what an interrupted pull or load left half written")

    def _collect(self) -> None:
        """Under both locks: delete what no image in the index needs."""
        index = self._index()
        images = index["images"]
        keep_blobs: set[str] = set()
        keep_chains: set[str] = set()
        for image_id, entry in images.items():
            keep_blobs |= {image_id, entry["manifest"], *entry.get("extra_blobs", [])}
            keep_chains |= set(entry.get("chain_ids", []))
            with contextlib.suppress(NotFoundError, ValueError, KeyError):
                manifest = json.loads(self.blobs.read(entry["manifest"]))
                keep_blobs |= {d["digest"] for d in manifest.get("layers", [])}
        for owner in index.get("pins", {}).values():
            for pinned in owner.values():
                keep_blobs |= set(pinned.get("blobs", []))
                keep_chains |= set(pinned.get("chains", []))
        for blob in list(self.blobs.digests()):
            if blob not in keep_blobs:
                self.blobs.delete(blob)
        for chain in self.layers.chain_ids():
            if chain not in keep_chains:
                self.layers.delete(chain)
        self._sweep()

    def disk_usage(self) -> int:
        total = 0
        for blob in self.blobs.digests():
            with contextlib.suppress(FileNotFoundError):
                total += self.blobs.size(blob)
        for chain in self.layers.chain_ids():
            total += int(self.layers.meta(chain).get("size", 0))
        return total


def temp_dir_in(store: ImageStore, prefix: str) -> Path:
    """A scratch directory on the store's filesystem (so renames into it are atomic)."""
    import tempfile  # only commands that add content need it

    store.root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=store.root))


def _index_problem(index: object) -> str:
    problem = checkedjson.object_with({"images": (dict,)}, {"pins": (dict,)}, index)
    if problem:
        return problem
    assert isinstance(index, dict)
    for image_id, entry in index["images"].items():
        problem = checkedjson.object_with({"manifest": (str,), "chain_ids": (list,)},
                                          {"references": (list,)}, entry)
        if problem:
            return f"image {image_id[:19]}: {problem}"
    return ""
