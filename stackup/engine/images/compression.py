"""Opening a layer blob as an uncompressed tar stream: gzip, zstd or plain.

The format is read from the blob's first bytes rather than trusted from the media
type, so a registry that mislabels a layer still works (and a corrupt one fails
in the decompressor with a clear error).
"""

from __future__ import annotations

import gzip
import zlib
from typing import BinaryIO

import zstandard

from stackup.engine.images.errors import ImageError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _SafeReader:
    """Turns decompressor failures into ImageError with the layer's name."""

    def __init__(self, raw: BinaryIO, what: str, closers: list):
        self._raw = raw
        self._what = what
        self._closers = closers

    def read(self, n: int = -1) -> bytes:
        try:
            return self._raw.read(n)
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise
            raise ImageError(f"{self._what} is corrupt or truncated: {exc}") from exc

    def close(self) -> None:
        for closer in self._closers:
            closer.close()


def open_uncompressed(file: BinaryIO, what: str = "layer") -> _SafeReader:
    """A reader of the uncompressed bytes of the (possibly compressed) layer in `file`."""
    head = file.read(4)
    file.seek(0)
    if head.startswith(GZIP_MAGIC):
        raw = gzip.GzipFile(fileobj=file, mode="rb")
        return _SafeReader(raw, what, [raw, file])
    if head == ZSTD_MAGIC:
        raw = zstandard.ZstdDecompressor().stream_reader(file, read_across_frames=True)
        return _SafeReader(raw, what, [raw, file])
    return _SafeReader(file, what, [file])
