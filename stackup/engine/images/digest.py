"""sha256 digests: validation, hashing of bytes and streams, chain IDs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from stackup.errors import UserError

if TYPE_CHECKING:
    from stackup.engine.images.compression import Reader

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def check(digest: str) -> str:
    """`digest` if it is a well-formed sha256 digest, else a UserError."""
    if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
        raise UserError(f"unsupported or malformed digest {digest!r} (expected sha256:<64 hex>)")
    return digest


def of_bytes(data: bytes) -> str:
    from hashlib import sha256  # (imported on use: `container run` hashes nothing)
    return "sha256:" + sha256(data).hexdigest()


def hex_of(digest: str) -> str:
    return check(digest).split(":", 1)[1]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    chains: list[str] = []
    for diff_id in diff_ids:
        check(diff_id)
        chains.append(diff_id if not chains else of_bytes(f"{chains[-1]} {diff_id}".encode()))
    return chains


class HashingReader:
    """A read-only stream that hashes (and counts) every byte read through it."""

    def __init__(self, raw: Reader):
        self._raw = raw
        from hashlib import sha256  # (imported on use: `container run` hashes nothing)
        self._hash = sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes | memoryview:
        data = self._raw.read(n)
        self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self, chunk: int = 1 << 20) -> None:
        """Read (and hash) whatever is left, e.g. the padding after a tar's end marker."""
        while self.read(chunk):
            pass

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()
