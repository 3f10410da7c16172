"""The pull's stream plumbing: chunks in, exact bytes out, whatever the read sizes."""

import gzip
import io
import random

from stackup.engine.images.compression import gzip_stream, open_uncompressed
from stackup.engine.images.pull import ChunkReader

DATA = random.Random(3).randbytes(300_000) + b"text " * 100_000


def read_in_random_sizes(reader, seed=1) -> bytes:
    rng = random.Random(seed)
    parts = []
    while chunk := reader.read(rng.choice([1, 511, 512, 4096, 65_536, 1 << 20])):
        parts.append(chunk)
    return b"".join(parts)


def test_chunk_reader_gives_every_byte_once_and_sinks_every_chunk():
    chunks = [DATA[i:i + 70_000] for i in range(0, len(DATA), 70_000)]
    seen = []
    reader = ChunkReader(iter(chunks), seen.append)
    assert read_in_random_sizes(reader) == DATA and seen == chunks
    assert ChunkReader(iter(chunks), lambda c: None).read() == DATA


def test_gzip_reader_multi_member_with_padding_and_any_read_size():
    blob = gzip.compress(DATA[:200_000]) + gzip.compress(DATA[200_000:]) + b"\0" * 1024
    for seed in range(4):
        assert read_in_random_sizes(open_uncompressed(io.BytesIO(blob)), seed) == DATA


def test_gzip_stream_round_trips_and_is_deterministic():
    out1, out2 = io.BytesIO(), io.BytesIO()
    digest, size = gzip_stream(io.BytesIO(DATA), out1.write)
    gzip_stream(io.BytesIO(DATA), out2.write)
    assert gzip.decompress(out1.getvalue()) == DATA and size == len(DATA)
    assert out1.getvalue() == out2.getvalue() and digest.startswith("sha256:")


def test_gzip_reader_highly_compressible_member_read_exactly():
    """Far more output than input per feed: the reader stops at its output limit and resumes
    in the same compressed slice."""
    data = b"\0" * 5_000_000 + DATA + b"abc" * 2_000_000
    for seed in range(2):
        assert read_in_random_sizes(open_uncompressed(io.BytesIO(gzip.compress(data))), seed) == data


def test_gzip_reader_refuses_truncation_corruption_and_data_after_padding():
    import pytest

    from stackup.engine.images.errors import ImageError
    blob = gzip.compress(DATA)
    bad = {
        "truncated": blob[:len(blob) // 2],
        "no trailer": blob[:-8],
        "corrupt": blob[:1000] + bytes(b ^ 0x55 for b in blob[1000:2000]) + blob[2000:],
        "after padding": blob + b"\0" * 100 + gzip.compress(b"more"),
    }
    for name, data in bad.items():
        with pytest.raises(ImageError):
            read_in_random_sizes(open_uncompressed(io.BytesIO(data), name))


def test_gzip_reader_with_plain_zlib(monkeypatch):
    """The zlib fallback (no isal wheel) reads the same bytes."""
    import zlib

    from stackup.engine.images import compression
    monkeypatch.setattr(compression, "inflater", zlib)
    blob = gzip.compress(DATA[:200_000]) + gzip.compress(DATA[200_000:]) + b"\0" * 1024
    assert read_in_random_sizes(open_uncompressed(io.BytesIO(blob))) == DATA
