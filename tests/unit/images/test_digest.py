"""Digests and chain IDs as the OCI image spec defines them."""

import hashlib
import io

import pytest

from stackup.engine.images import digest as dg
from stackup.errors import UserError


def test_chain_ids_follow_the_spec():
    a, b, c = (dg.of_bytes(x) for x in (b"a", b"b", b"c"))
    chains = dg.chain_ids([a, b, c])
    assert chains[0] == a
    assert chains[1] == "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chains[2] == "sha256:" + hashlib.sha256(f"{chains[1]} {c}".encode()).hexdigest()


@pytest.mark.parametrize("bad", ["sha256:abc", "sha512:" + "a" * 128, "a" * 64, "sha256:" + "A" * 64])
def test_malformed_digests_rejected(bad):
    with pytest.raises(UserError):
        dg.check(bad)


def test_hashing_reader_counts_and_hashes_drained_bytes():
    reader = dg.HashingReader(io.BytesIO(b"x" * 3000))
    assert reader.read(10) == b"x" * 10
    reader.drain(chunk=7)
    assert reader.size == 3000 and reader.digest() == dg.of_bytes(b"x" * 3000)
