"""Getting layers and blobs onto the disk cheaply: syncfs and early writeback.

A layer is thousands of files; an fsync each would cost a journal commit each. Instead
every file's writeback is started as soon as it is written (sync_file_range, which does
not wait), and one syncfs before the layer is installed waits for whatever is left.
Python's os module has neither call, so they come from libc.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _libc() -> ctypes.CDLL:
    """libc, loaded on first use: commands that write no layer or blob never need it."""
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    libc.syncfs.argtypes = [ctypes.c_int]
    return libc


def syncfs(path: Path) -> None:
    """Flush the filesystem holding `path` (one syscall, instead of an fsync per file)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _libc().syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def start_writeback(fd: int, offset: int = 0, nbytes: int = 0) -> None:
    """Ask the kernel to start writing `fd`'s dirty pages (all of them when nbytes is 0).

    Only a hint, so a later syncfs/fsync has less to wait for: errors are ignored.
    """
    _libc().sync_file_range(fd, offset, nbytes, SYNC_FILE_RANGE_WRITE)
