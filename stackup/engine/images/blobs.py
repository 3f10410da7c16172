"""Content-addressed blobs: every manifest, config and compressed layer, named by its sha256.

A blob is written to a temporary file next to the store, hashed on the way, checked
against the digest it is expected to have, fsynced and renamed into place: a blob in
`sha256/` is always complete and always what its name says.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

from stackup.engine.images import digest as dg
from stackup.engine.images.diskio import start_writeback
from stackup.engine.images.errors import DigestMismatchError, ImageError
from stackup.errors import NotFoundError

CHUNK = 1 << 20
TMP_PREFIX = "blob-"  # a blob being written, in BlobStore.tmp_dir
WRITEBACK_EVERY = 8 << 20  # start writing a large blob out as it arrives: a short fsync at commit


class BlobStore:
    def __init__(self, root: Path):
        self.root = root
        self._dir = root / "sha256"
        self.tmp_dir = root / "tmp"  # where BlobWriter writes before the rename

    def path(self, digest: str) -> Path:
        return self._dir / dg.hex_of(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def read(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} is not in the store") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} is not in the store") from None

    def put_bytes(self, data: bytes, expected: str | None = None) -> str:
        return self.put_chunks([data], expected)[0]

    def put_stream(self, stream: IO[bytes], expected: str | None = None) -> tuple[str, int]:
        return self.put_chunks(iter(lambda: stream.read(CHUNK), b""), expected)

    def put_chunks(self, chunks: Iterable[bytes], expected: str | None = None,
                   what: str = "blob") -> tuple[str, int]:
        """Store the concatenated chunks; return (digest, size). Verifies `expected` if given."""
        if expected is not None:
            dg.check(expected)
        writer = self.writer()
        try:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit(expected, what)
        finally:
            writer.abort()

    def writer(self) -> BlobWriter:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._dir.mkdir(parents=True, exist_ok=True)
        return BlobWriter(self)

    def sweep_tmp(self) -> int:
        """Remove half-written blobs; only while no writer can be at work (gc.lock). How
        many there were."""
        removed = 0
        if self.tmp_dir.is_dir():
            for e in os.scandir(self.tmp_dir):
                if e.name.startswith(TMP_PREFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(e.path)
                        removed += 1
        return removed

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def digests(self) -> Iterator[str]:
        if self._dir.is_dir():
            for entry in os.scandir(self._dir):
                if dg.DIGEST_RE.fullmatch("sha256:" + entry.name):
                    yield "sha256:" + entry.name


class BlobWriter:
    """An incremental blob write: write() chunks, then commit(expected digest) or abort()."""

    def __init__(self, store: BlobStore):
        import tempfile  # (imported on use: `up` of images already here writes no blob)

        self._store = store
        fd, self._tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=store.tmp_dir)
        self._file = os.fdopen(fd, "wb")
        from hashlib import sha256  # (imported on use: `container run` hashes nothing)
        self._hash = sha256()
        self.size = 0
        self._written_back = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise ImageError(f"cannot write blob to {self._store.root}: {exc.strerror}") from exc
        self._hash.update(chunk)
        self.size += len(chunk)
        if self.size - self._written_back >= WRITEBACK_EVERY:
            self._file.flush()
            start_writeback(self._file.fileno(), self._written_back, self.size - self._written_back)
            self._written_back = self.size

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, expected: str | None = None, what: str = "blob") -> tuple[str, int]:
        actual = self.digest()
        if expected is not None and actual != expected:
            raise DigestMismatchError(f"{what} {expected} is corrupt: its content hashes to {actual}")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self._store.path(actual))
        except OSError as exc:
            raise ImageError(f"cannot store {what} {actual}: {exc.strerror}") from exc
        self._done = True
        return actual, self.size

    def abort(self) -> None:
        if not self._done:
            self._file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._done = True
