"""Getting layers and blobs onto the disk cheaply: syncfs, early writeback, inode placement.

A layer is thousands of files; an fsync each would cost a journal commit each. Instead
every file's writeback is started as soon as it is written (sync_file_range, which does
not wait), and one syncfs before the layer is installed waits for whatever is left.
Python's os module has neither call, so they come from libc.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import os
import struct
from pathlib import Path

SYNC_FILE_RANGE_WRITE = 2
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_TOPDIR_FL = 0x00020000


@functools.cache
def _libc() -> ctypes.CDLL:
    """libc, loaded on first use: commands that write no layer or blob never need it.

    The process's own symbols (libc's among them), not ctypes.util.find_library("c"),
    which runs `ldconfig -p` (13 ms of every pull, load and import)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    libc.syncfs.argtypes = [ctypes.c_int]
    return libc


def prepare() -> None:
    """Load libc now (a forked child must not: see images/forked.py)."""
    _libc()


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


def mark_hierarchy_top(path: Path) -> None:
    """Ask ext4 to spread the directories made in `path` over its block groups (the `T`
    attribute of chattr(1): each is the top of its own hierarchy, as a home directory is).

    Each layer then gets its inodes from a quiet block group. Without a journal, ext4
    avoids reusing recently deleted inodes by scanning past each of them on every
    create, so in a group where many files were just deleted (a removed image, a
    churning test tree) each new file costs up to a millisecond of CPU; a layer has
    hundreds. Only a placement hint: filesystems without the flag ignore it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0]
        if not flags & FS_TOPDIR_FL:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags | FS_TOPDIR_FL))
    except OSError:
        pass  # not ext2/3/4 (ENOTTY, EOPNOTSUPP): nothing to hint
    finally:
        os.close(fd)
