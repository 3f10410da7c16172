"""Every kernel call the runtime makes that Python's `os` lacks, in one place.

`Syscalls` declares the operations (the seam, as youki's `Syscall` trait is): a rootfs
`Step` names one of them. `LinuxSyscalls` performs them, calling libc through ctypes
(Python 3.11 has no os.unshare/setns/mount). `RecordingSyscalls` has the same operations
with the same signatures and records each call instead, so unit tests check the mount
plan and the order of the setup steps without root; a name it lacks is a misspelled step.
"""

from __future__ import annotations

import ctypes
import os

from stackup.engine.runtime.securejoin import Resolved, make_in_root, pin

TYPE_CHECKING = False  # not `typing`: it costs the fresh child that starts PID 1 milliseconds
if TYPE_CHECKING:
    from typing import Protocol
else:
    class Protocol:
        """Run-time stand-in for typing.Protocol: the checker sees the real one, and like
        it, a protocol cannot be instantiated (`Syscalls()` is a mistake for LinuxSyscalls)."""

        def __new__(cls, *args: object, **kwargs: object) -> None:
            raise TypeError(f"{cls.__name__} is a protocol, it cannot be instantiated")

# Namespace flags (linux/sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Interface flags (linux/sockios.h, linux/if.h).
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

# pty ioctls (asm-generic/ioctls.h) that the termios module lacks.
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431

# Mount flags (linux/mount.h).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# prctl options (linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _encode(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


class Syscalls(Protocol):
    """The kernel operations of a container's setup. `openpty` keeps the pty it opens in
    `pty_master` and `pty_number`, for the step after the plan that hands it over."""

    pty_master: int
    pty_number: int

    def unshare(self, flags: int) -> None: ...

    def setns(self, fd: int, nstype: int = 0) -> None: ...

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None: ...

    def umount2(self, target: str, flags: int = 0) -> None: ...

    def pivot_root(self, new_root: str, put_old: str) -> None: ...

    def sethostname(self, name: str) -> None: ...

    def setdomainname(self, name: str) -> None: ...

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int: ...

    def capset(self, effective: int, permitted: int, inheritable: int) -> None: ...

    def mknod(self, path: str, mode: int, device: int) -> None: ...

    def mkdir(self, path: str, mode: int = 0o755) -> None: ...

    def touch(self, path: str) -> None: ...

    def symlink(self, target: str, path: str) -> None: ...

    def chmod(self, path: str, mode: int) -> None: ...

    def chown(self, path: str, uid: int, gid: int) -> None: ...

    def chdir(self, path: str) -> None: ...

    def loopback_up(self) -> None: ...

    def openpty(self, ptmx: str) -> None: ...

    def write_file(self, path: str, data: str) -> None: ...


class LinuxSyscalls:
    """The real kernel: each method raises OSError with the call and path on failure."""

    def __init__(self) -> None:
        self.pty_master = self.pty_number = -1  # until `openpty`
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                     ctypes.c_ulong, ctypes.c_char_p]
        self._libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self._libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                                     ctypes.c_ulong, ctypes.c_ulong]

    def _check(self, result: int, what: str, path: str | None = None) -> int:
        if result < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}", path)
        return result

    def unshare(self, flags: int) -> None:
        self._check(self._libc.unshare(flags), "unshare")

    def setns(self, fd: int, nstype: int = 0) -> None:
        self._check(self._libc.setns(fd, nstype), "setns")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        """A target resolved in the container's root (`Resolved`) is pinned first and
        mounted on through its fd, so it cannot be swapped for a symlink meanwhile."""
        fd = pin(target) if isinstance(target, Resolved) else -1
        at = f"/proc/self/fd/{fd}" if fd >= 0 else target
        try:
            self._check(self._libc.mount(_encode(source), _encode(at), _encode(fstype), flags,
                                         _encode(data)),
                        f"mount {fstype or ''} {source or ''} on", target)
        finally:
            if fd >= 0:
                os.close(fd)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._check(self._libc.umount2(target.encode(), flags), "umount", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        # glibc has no wrapper: syscall(SYS_pivot_root = 155 on x86_64, 217 on arm64).
        nr = 217 if os.uname().machine in ("aarch64", "arm64") else 155
        self._check(self._libc.syscall(nr, new_root.encode(), put_old.encode()),
                    "pivot_root", new_root)

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._libc.sethostname(raw, len(raw)), "sethostname")

    def setdomainname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._libc.setdomainname(raw, len(raw)), "setdomainname")

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        return self._check(self._libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl {option}")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        for i in range(2):
            shift = 32 * i
            data[i].effective = (effective >> shift) & 0xFFFFFFFF
            data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
            data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
        self._check(self._libc.capset(ctypes.byref(header), data), "capset")

    def mknod(self, path: str, mode: int, device: int) -> None:
        try:
            os.mknod(path, mode, device)
        except FileExistsError:  # a device asked for where a default one is: it wins
            os.unlink(path)
            os.mknod(path, mode, device)

    # Plain file-system steps go through here too so the recorded plan is complete.
    # A path resolved in the container's root is made without following any link.
    def mkdir(self, path: str, mode: int = 0o755) -> None:
        if isinstance(path, Resolved):
            make_in_root(path, directory=True, mode=mode)
            return
        os.makedirs(path, mode=mode, exist_ok=True)

    def touch(self, path: str) -> None:
        if isinstance(path, Resolved):
            make_in_root(path, directory=False)
        elif not os.path.lexists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))

    def symlink(self, target: str, path: str) -> None:
        if not os.path.lexists(path):
            os.symlink(target, path)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(path, uid, gid, follow_symlinks=False)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def loopback_up(self) -> None:
        """Bring up `lo` in this process's network namespace (SIOCGIFFLAGS/SIOCSIFFLAGS)."""
        import _socket
        import fcntl
        import struct

        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            req = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
        finally:
            s.close()

    def openpty(self, ptmx: str) -> None:
        """A new pty of the devpts instance that `ptmx` belongs to (the container's own):
        the master is kept in `pty_master` (close-on-exec), its number in `pty_number`."""
        import fcntl
        import struct

        fd = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        fcntl.ioctl(fd, TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
        self.pty_number = struct.unpack("I", fcntl.ioctl(fd, TIOCGPTN, b"\0" * 4))[0]
        self.pty_master = fd

    def write_file(self, path: str, data: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)


class RecordingSyscalls:
    """Records every call as a tuple (name, *arguments, defaults included); performs
    nothing. It has exactly the operations of `Syscalls`, so a step that names another
    raises AttributeError as it would on the real kernel."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.pty_master = self.pty_number = -1

    def _record(self, *call: object) -> None:
        self.calls.append(call)

    def unshare(self, flags: int) -> None:
        self._record("unshare", flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        self._record("setns", fd, nstype)

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        self._record("mount", source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._record("umount2", target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record("pivot_root", new_root, put_old)

    def sethostname(self, name: str) -> None:
        self._record("sethostname", name)

    def setdomainname(self, name: str) -> None:
        self._record("setdomainname", name)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        self._record("prctl", option, arg2, arg3, arg4, arg5)
        return 0

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._record("capset", effective, permitted, inheritable)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._record("mknod", path, mode, device)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self._record("mkdir", path, mode)

    def touch(self, path: str) -> None:
        self._record("touch", path)

    def symlink(self, target: str, path: str) -> None:
        self._record("symlink", target, path)

    def chmod(self, path: str, mode: int) -> None:
        self._record("chmod", path, mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._record("chown", path, uid, gid)

    def chdir(self, path: str) -> None:
        self._record("chdir", path)

    def loopback_up(self) -> None:
        self._record("loopback_up")

    def openpty(self, ptmx: str) -> None:
        self._record("openpty", ptmx)

    def write_file(self, path: str, data: str) -> None:
        self._record("write_file", path, data)

    def names(self) -> list[str]:
        return [str(c[0]) for c in self.calls]

    def of(self, name: str) -> list[tuple[object, ...]]:
        return [c for c in self.calls if c[0] == name]


if TYPE_CHECKING:  # both sides of the seam satisfy it (checked by the type checker)
    _real: Syscalls = LinuxSyscalls()
    _fake: Syscalls = RecordingSyscalls()
