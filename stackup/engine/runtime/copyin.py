"""Copying host files into a running container, and deleting paths in it (`watch`'s sync).

The files travel as a tar stream through a pipe to a forked child that has joined the
container's mount namespace, which also puts it at the container's root: every path
is then resolved by the kernel as the container sees it (its volumes and binds
included; an absolute symlink in the image points inside the container, never at the
host). No program is needed in the image (compose execs `tar` in the container) and
no process starts in it. Ownership, mode and mtime of the host files are kept, as a
tar extracted by root keeps them.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stackup.engine.runtime import syscalls as sc
from stackup.engine.runtime.container import Runtime
from stackup.errors import ConflictError, StackupError


@dataclass(frozen=True)
class Copy:
    """One host file, folder (its entry only) or symlink, to be at `target` (absolute) in the container."""

    source: Path
    target: str


class CopyError(StackupError):
    """The copy into the container failed (its message says what)."""


def copy_into(runtime: Runtime, ref: str, copies: Sequence[Copy], deletions: Sequence[str] = ()) -> None:
    """Remove `deletions` (absolute paths; missing ones are fine), then write `copies`,
    in the running container `ref`. Folders are made as needed."""
    state = runtime.state(ref)
    if not state.status.can_exec() or not state.pid:
        raise ConflictError(f"container {state.name} is {state.status}, not running")
    ns = os.open(f"/proc/{state.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    data_r, data_w = os.pipe()
    report_r, report_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(data_w)
        os.close(report_r)
        _child(ns, data_r, report_w, deletions)
    os.close(ns)
    os.close(data_r)
    os.close(report_w)
    try:
        with os.fdopen(data_w, "wb") as stream, tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for copy in copies:
                _add(tar, copy)
    except BrokenPipeError:
        pass   # the child failed: its report says why
    finally:
        _, status = os.waitpid(child, 0)
        with os.fdopen(report_r, "rb") as f:
            report = f.read().decode(errors="replace")
    if status != 0 or report:
        raise CopyError(f"copy into {state.name}: {report or 'failed'}")


def _add(tar: tarfile.TarFile, copy: Copy) -> None:
    try:
        info = tar.gettarinfo(str(copy.source), arcname=copy.target.lstrip("/"))
    except FileNotFoundError:
        return   # gone meanwhile: the next batch deletes it
    if info.isreg():
        try:
            with open(copy.source, "rb") as f:
                tar.addfile(info, f)
        except FileNotFoundError:
            return
    elif info.isdir() or info.issym():
        tar.addfile(info)


def _child(ns: int, data_r: int, report_w: int, deletions: Sequence[str]) -> None:
    """In the forked child: enter the container's mount namespace, delete, extract."""
    code = 0
    try:
        sc.LinuxSyscalls().setns(ns, 0)
        os.chdir("/")
        for path in deletions:
            _remove(path)
        with os.fdopen(data_r, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                _make_parents(member.name)
                _replace_kind(member)
                tar.extract(member, "/", numeric_owner=True, filter="tar")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        os.write(report_w, str(exc).encode()[:4000])
        code = 1
    finally:
        os._exit(code)


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def _make_parents(name: str) -> None:
    parent = os.path.dirname("/" + name)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, mode=0o755, exist_ok=True)


def _replace_kind(member: tarfile.TarInfo) -> None:
    """A folder where a file comes (or the other way round) is removed first, as a
    fresh copy of the host's tree would have it."""
    path = "/" + member.name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode) and not member.isdir():
        shutil.rmtree(path)
    elif not stat.S_ISDIR(st.st_mode) and (member.isdir() or member.issym()):
        os.unlink(path)
