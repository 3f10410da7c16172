"""Hand-made layer tarballs for tests: any entry, including the malicious ones.

    data = (TarBuilder().dir("etc").file("etc/hosts", b"x", mode=0o600, uid=1)
            .symlink("lnk", "/etc").whiteout("gone").bytes())
"""

from __future__ import annotations

import gzip
import io
import tarfile

import zstandard


class TarBuilder:
    def __init__(self, mtime: int = 1_600_000_000):
        self._buf = io.BytesIO()
        self._tar = tarfile.open(fileobj=self._buf, mode="w", format=tarfile.PAX_FORMAT)
        self.mtime = mtime

    def _info(self, name: str, kind: bytes, mode: int, uid: int, gid: int,
              xattrs: dict[str, bytes] | None = None) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, self.mtime
        if xattrs:
            info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                                for k, v in xattrs.items()}
        return info

    def dir(self, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0, **kw) -> TarBuilder:
        self._tar.addfile(self._info(name, tarfile.DIRTYPE, mode, uid, gid, **kw))
        return self

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
             **kw) -> TarBuilder:
        info = self._info(name, tarfile.REGTYPE, mode, uid, gid, **kw)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))
        return self

    def symlink(self, name: str, target: str, uid: int = 0, gid: int = 0) -> TarBuilder:
        info = self._info(name, tarfile.SYMTYPE, 0o777, uid, gid)
        info.linkname = target
        self._tar.addfile(info)
        return self

    def hardlink(self, name: str, target: str) -> TarBuilder:
        info = self._info(name, tarfile.LNKTYPE, 0o644, 0, 0)
        info.linkname = target
        self._tar.addfile(info)
        return self

    def device(self, name: str, kind: str = "chr", major: int = 1, minor: int = 3,
               mode: int = 0o666) -> TarBuilder:
        types = {"chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}
        info = self._info(name, types[kind], mode, 0, 0)
        info.devmajor, info.devminor = major, minor
        self._tar.addfile(info)
        return self

    def whiteout(self, name: str) -> TarBuilder:
        parent, _, base = name.rpartition("/")
        return self.file(f"{parent}/.wh.{base}" if parent else f".wh.{base}")

    def opaque(self, directory: str) -> TarBuilder:
        return self.file(f"{directory}/.wh..wh..opq")

    def bytes(self) -> bytes:
        self._tar.close()
        return self._buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)


def zstd_bytes(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)
