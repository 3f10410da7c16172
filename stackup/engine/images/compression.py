"""Opening a layer blob as an uncompressed tar stream: gzip, zstd or plain.

The format is read from the blob's first bytes rather than trusted from the media
type, so a registry that mislabels a layer still works (and a corrupt one fails
in the decompressor with a clear error).
"""

from __future__ import annotations

import hashlib
import zlib
from types import ModuleType
from typing import BinaryIO, Protocol

import zstandard

from stackup.engine.images.errors import ImageError

inflater: ModuleType
try:
    # python-isal (Intel's ISA-L): the same decompressobj API as zlib, inflating about
    # twice as fast; zlib when it is missing (a platform without a wheel).
    from isal import isal_zlib as inflater
except ImportError:  # pragma: no cover
    inflater = zlib

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Reader(Protocol):
    """What a layer is read from and as: a file, or one of the readers here. A chunk may
    be a memoryview of the reader's buffer (see _GzipReader), valid until the next read."""

    def read(self, n: int = -1, /) -> bytes | memoryview: ...


class _SafeReader:
    """Turns decompressor failures into ImageError with the layer's name."""

    def __init__(self, raw: Reader, what: str, closers: list):
        self._raw = raw
        self._what = what
        self._closers = closers

    def read(self, n: int = -1) -> bytes | memoryview:
        try:
            return self._raw.read(n)
        except (OSError, EOFError, zlib.error, inflater.error, zstandard.ZstdError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise
            raise ImageError(f"{self._what} is corrupt or truncated: {exc}") from exc

    def close(self) -> None:
        for closer in self._closers:
            closer.close()


class _GzipReader:
    """gzip decompression straight on the inflate object: multi-member streams, zero padding
    after the last member, truncation detected.

    The inflater is fed at most FEED compressed bytes at a time: when it stops at its output
    limit, CPython copies what it left of its input (unconsumed_tail), so feeding whole
    megabytes made that copy cost more than the inflating. Pieces stay large all the same:
    each call costs a round of Python.

    Reads hand over the inflater's output without copying it: all of it as it is when
    that much was asked for, else a memoryview of the part asked for (so a read may
    return a memoryview: a file's data goes from inflate to write(2) uncopied).
    """

    FEED = 256 << 10
    OUT = 1 << 20

    def __init__(self, raw: Reader, what: str):
        self._raw = raw
        self._what = what
        self._d = inflater.decompressobj(16 + zlib.MAX_WBITS)
        self._input = memoryview(b"")
        self._out = b""
        self._pos = 0
        self._in_member = False
        self._padding = False
        self._eof = False

    def _more_input(self) -> bool:
        data = self._raw.read(1 << 20)
        if not data:
            if self._in_member:
                raise ImageError(f"{self._what} is truncated: the gzip stream ends early")
            self._eof = True
            return False
        self._input = memoryview(data)
        return True

    def _fill(self, want: int) -> None:
        while self._pos >= len(self._out) and not self._eof:
            if not self._input and not self._more_input():
                return
            if not self._in_member and (self._padding or self._input[0] == 0):
                # Only zeros may follow the last member (block padding).
                if bytes(self._input).strip(b"\x00"):
                    raise ImageError(f"{self._what} is corrupt: data after the gzip padding")
                self._padding, self._input = True, memoryview(b"")
                continue
            feed = self._input[:self.FEED]
            try:
                out = self._d.decompress(feed, max(want, self.OUT))
            except inflater.error as exc:
                raise ImageError(f"{self._what} is corrupt: {exc}") from None
            self._in_member = True
            if self._d.eof:
                # What follows this member in `feed` is in unused_data (CPython may leave a
                # stale copy of it in unconsumed_tail too: never read both).
                left = len(self._d.unused_data)
                self._d = inflater.decompressobj(16 + zlib.MAX_WBITS)
                self._in_member = False
            else:
                left = len(self._d.unconsumed_tail)
            self._input = self._input[len(feed) - left:]
            self._out, self._pos = out, 0

    def read(self, n: int = -1) -> bytes | memoryview:
        if n is None or n < 0:
            parts: list[bytes | memoryview] = []
            while True:
                chunk = self.read(1 << 20)
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
        self._fill(n)
        out, pos = self._out, self._pos
        if pos == 0 and len(out) <= n:
            self._out = b""
            return out
        self._pos = min(pos + n, len(out))
        return memoryview(out)[pos:self._pos]

    def close(self) -> None:
        pass


class _Peeked:
    """A stream whose first bytes were read to sniff its format, and are given back first."""

    def __init__(self, head: bytes, raw: Reader):
        self._head = head
        self._raw = raw

    def read(self, n: int = -1) -> bytes | memoryview:
        if self._head:
            if n < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._raw.read(n)

    def close(self) -> None:
        if hasattr(self._raw, "close"):
            self._raw.close()


def _read_exactly(file: Reader, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = file.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def is_compressed(file: BinaryIO) -> bool:
    head = file.read(4)
    file.seek(0)
    return head.startswith(GZIP_MAGIC) or head == ZSTD_MAGIC


IMPORT_GZIP_LEVEL = 6  # Go's and Docker's default gzip level


def gzip_stream(reader: Reader, write, chunk: int = 1 << 20,
                level: int = IMPORT_GZIP_LEVEL) -> tuple[str, int]:
    """gzip what `reader` yields, handing the compressed bytes to `write`; returns the
    (sha256 digest, size) of the uncompressed bytes (the layer's diff_id).

    The gzip header carries no name and no mtime, so the same tar always compresses
    to the same blob (and two imports of one rootfs share it).
    """
    hasher = hashlib.sha256()
    size = 0
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    while data := reader.read(chunk):
        hasher.update(data)
        size += len(data)
        out = compressor.compress(data)
        if out:
            write(out)
    write(compressor.flush())
    return "sha256:" + hasher.hexdigest(), size


def open_uncompressed(file: Reader, what: str = "layer") -> _SafeReader:
    """A reader of the uncompressed bytes of the (possibly compressed) layer in `file`."""
    head = _read_exactly(file, 4)
    if getattr(file, "seekable", lambda: False)():
        file.seek(0)  # type: ignore[attr-defined]  # a seekable stream has seek
    else:
        file = _Peeked(head, file)
    if head.startswith(GZIP_MAGIC):
        gzipped = _GzipReader(file, what)
        return _SafeReader(gzipped, what, [gzipped, file])
    if head == ZSTD_MAGIC:
        zstd = zstandard.ZstdDecompressor().stream_reader(
            file, read_across_frames=True)  # type: ignore[arg-type]  # it only calls read()
        return _SafeReader(zstd, what, [zstd, file])
    return _SafeReader(file, what, [file])
