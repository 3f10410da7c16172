"""A build step's view of its layers: an overlay mounted on the host, and undone without a trace.

    build/tmp/.lock             held shared while a scratch folder is made, exclusively by sweep
    build/tmp/<name>/.lock      held by the build using the folder (flock: dies with it)
    build/tmp/<name>/merged     the view (`View.root`)
    build/tmp/<name>/upper      the step's changes (`View.upper`), left for `commit` to take
    build/tmp/<name>/work       overlay's work folder
    build/tmp/<name>/empty      the lower of a view of no layers

The builder writes into the view from its own process (COPY, ADD), so the overlay is
mounted in the host's mount namespace, on `merged` bound onto itself and made private
first: on a host whose `/` is shared (systemd's default) neither the overlay nor its
unmount propagates to other namespaces. `mounted` always unmounts on the way out;
`sweep` takes what a killed build left (mounts first, then folders).

Scratch folders live under $STACKUP_ROOT/build/tmp, on the image store's filesystem, so
`commit` can rename an upper into the layer store instead of copying it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stackup.engine import state
from stackup.engine.runtime import syscalls as sc
from stackup.engine.runtime.rootfs import MOUNT_DATA_MAX, overlay_options
from stackup.errors import StackupError

LOCK = ".lock"
# Written changes must be plain files and folders that a tar can say: no redirects (a renamed
# folder recorded as an xattr pointing at its lower) and no metadata-only copy-ups.
WRITABLE_OPTIONS = "redirect_dir=off,metacopy=off,index=off"


class SnapshotError(StackupError):
    """A view of a build step's layers could not be mounted."""


@dataclass(frozen=True)
class View:
    """A mounted view: `root` is the merged tree, `upper` where its changes land (None
    for a read-only view)."""

    root: Path
    upper: Path | None


def scratch_root() -> Path:
    """$STACKUP_ROOT/build/tmp: where build steps' scratch folders live."""
    return state.root() / "build" / "tmp"


@contextlib.contextmanager
def scratch_dir(root: Path | None = None) -> Iterator[Path]:
    """A fresh scratch folder below `root` (default `scratch_root()`), locked as in use by
    this process and removed on the way out with whatever is left in it."""
    root = root if root is not None else scratch_root()
    root.mkdir(parents=True, exist_ok=True)
    with state.locked(root / LOCK, shared=True):  # sweep cannot take it before it is locked
        path = Path(tempfile.mkdtemp(prefix="step-", dir=root))
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield path
    finally:
        try:
            _unmount_below(path)
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


@contextlib.contextmanager
def mounted(layers: list[Path], scratch: Path, writable: bool = True) -> Iterator[View]:
    """The overlay of `layers` (base first) mounted at `scratch/merged` for the block.

    Writable: a fresh upper (`scratch/upper`, left behind for `commit`) and work folder.
    Read-only: two or more layers are an overlay of lowers only; one layer is bound
    read-only; none is an empty folder. `scratch` is a folder from `scratch_dir`.
    """
    merged, upper, work = scratch / "merged", scratch / "upper", scratch / "work"
    for folder in (merged, upper, work) if writable else (merged,):
        folder.mkdir(mode=0o755)
    lowers = [str(p) for p in layers]
    if writable and not lowers:
        (scratch / "empty").mkdir(mode=0o755)
        lowers = [str(scratch / "empty")]
    if not writable and not lowers:
        yield View(merged, None)
        return
    syscalls = sc.LinuxSyscalls()
    _private_self_bind(syscalls, merged)
    try:
        if writable:
            _mount_overlay(syscalls, merged, lowers, upper, work)
        elif len(lowers) == 1:
            syscalls.mount(lowers[0], str(merged), None, sc.MS_BIND)
            syscalls.mount(None, str(merged), None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
        else:
            _mount_overlay(syscalls, merged, lowers)
        try:
            yield View(merged, upper if writable else None)
        finally:
            _unmount(syscalls, merged)
    finally:
        _unmount(syscalls, merged)  # the private bind


def sweep(root: Path | None = None) -> list[str]:
    """Unmount and remove the scratch folders of builds that are gone (killed); a folder a
    live build holds is left alone. Returns the names removed."""
    root = root if root is not None else scratch_root()
    if not root.is_dir():
        return []
    removed: list[str] = []
    with state.locked(root / LOCK):
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if entry.name == LOCK:
                continue
            path = Path(entry.path)
            if not entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                removed.append(entry.name)
                continue
            with state.try_locked(path / LOCK) as free:
                if not free:
                    continue  # a live build's
                _unmount_below(path)
                shutil.rmtree(path, ignore_errors=True)
                removed.append(entry.name)
    return removed


# --- mounting ---------------------------------------------------------------------------

def _private_self_bind(syscalls: sc.LinuxSyscalls, where: Path) -> None:
    """`where` bound onto itself and made private: what is mounted on it stays here."""
    syscalls.mount(str(where), str(where), None, sc.MS_BIND)
    try:
        syscalls.mount(None, str(where), None, sc.MS_PRIVATE)
    except BaseException:
        _unmount(syscalls, where)
        raise


def _mount_overlay(syscalls: sc.LinuxSyscalls, target: Path, lowers: list[str],
                   upper: Path | None = None, work: Path | None = None) -> None:
    """Mount the overlay (lowers only, read-only, without `upper`), naming the lowers by
    open descriptors (`/proc/self/fd/N`) when their paths would not fit the page of
    options the kernel takes.

    The runtime's `l/<n>` links are relative to a chdir in the container's own child;
    the builder mounts from a process that may run several steps at once in threads,
    where a chdir would move them all, so short names come from descriptors instead."""
    fds: list[int] = []
    try:
        data = _options(lowers, upper, work)
        if len(data) > MOUNT_DATA_MAX:
            for lower in lowers:
                fds.append(os.open(lower, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
            data = _options([f"/proc/self/fd/{fd}" for fd in fds], upper, work)
            if len(data) > MOUNT_DATA_MAX:
                raise SnapshotError(f"too many layers to mount ({len(lowers)})")
        if upper is None:
            syscalls.mount("overlay", str(target), "overlay", 0, data)
            return
        try:
            syscalls.mount("overlay", str(target), "overlay", 0, f"{data},{WRITABLE_OPTIONS}")
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # a kernel that does not know one of the options: its defaults (commit refuses
            # what it cannot say in a tar)
            syscalls.mount("overlay", str(target), "overlay", 0, data)
    except OSError as exc:
        raise SnapshotError(f"cannot mount the build step's layers: {exc.strerror or exc}") from exc
    finally:
        for fd in fds:
            os.close(fd)


def _options(lowers: list[str], upper: Path | None, work: Path | None) -> str:
    if upper is None or work is None:
        return "lowerdir=" + ":".join(reversed(lowers))
    return overlay_options(lowers, str(upper), str(work))


def _unmount(syscalls: sc.LinuxSyscalls, target: Path) -> None:
    """Unmount the top mount on `target`; busy, it is detached (gone once unused) rather
    than left. Nothing mounted there: nothing to do."""
    try:
        syscalls.umount2(str(target), 0)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            syscalls.umount2(str(target), sc.MNT_DETACH)
        elif exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise


def _unmount_below(path: Path) -> None:
    """Detach every mount at or below `path`, deepest first (a killed build's leftovers)."""
    syscalls = sc.LinuxSyscalls()
    for target in sorted(_mounts_below(str(path)), key=len, reverse=True):
        with contextlib.suppress(OSError):
            syscalls.umount2(target, sc.MNT_DETACH)


def _mounts_below(path: str) -> list[str]:
    prefix = path.rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            target = _unescape(line.split(b" ")[4])
            if target == path or target.startswith(prefix):
                found.append(target)
    return found


def _unescape(field: bytes) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    out = bytearray()
    i = 0
    while i < len(field):
        if field[i:i + 1] == b"\\" and field[i + 1:i + 4].isdigit():
            out.append(int(field[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return os.fsdecode(bytes(out))
