"""Passing file descriptors over Unix sockets (SCM_RIGHTS) with the `_socket` C module only.

The shim imports this, so it stays off the `socket` package (which loads enum, selectors
and more). Used for the pty master (PID 1 -> shim) and for attaching (shim -> CLI)."""

import _socket
import array
import os

SOL_SOCKET = _socket.SOL_SOCKET
SCM_RIGHTS = _socket.SCM_RIGHTS


def socketpair():
    """(a, b) raw file descriptors of a connected AF_UNIX stream pair (close-on-exec)."""
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    return a.detach(), b.detach()


def _sock(fd):
    return _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)


def send_fd(sock_fd, fd, tag=b"f"):
    """Send `tag` with `fd` attached (fd < 0: the tag alone)."""
    s = _sock(sock_fd)
    try:
        anc = [(SOL_SOCKET, SCM_RIGHTS, array.array("i", [fd]).tobytes())] if fd >= 0 else []
        s.sendmsg([tag], anc)
    finally:
        s.detach()


def recv_fd(sock_fd):
    """(tag, fd or -1) from a send_fd; (b"", -1) at end of stream."""
    s = _sock(sock_fd)
    try:
        data, anc, _flags, _addr = s.recvmsg(1, _socket.CMSG_SPACE(4))
    finally:
        s.detach()
    for level, kind, payload in anc:
        if level == SOL_SOCKET and kind == SCM_RIGHTS and len(payload) >= 4:
            fd = array.array("i", payload[:4])[0]
            os.set_inheritable(fd, False)
            return data, fd
    return data, -1


def _via_dir_fd(path, action):
    """Run `action(short_path)` with a path of at most a few dozen bytes for `path`: socket
    addresses are limited to 108 bytes and state directories can be deeper than that."""
    dfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return action("/proc/self/fd/%d/%s" % (dfd, os.path.basename(path)))
    finally:
        os.close(dfd)


def listen(path):
    """A listening AF_UNIX socket at `path` (replacing a stale one): its fd."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    _via_dir_fd(path, s.bind)
    os.chmod(path, 0o600)
    s.listen(4)
    return s.detach()


def accept(listen_fd, send_timeout=2):
    """A connection's fd (writes to it block `send_timeout` seconds at most), or -1."""
    s = _sock(listen_fd)
    try:
        fd, _addr = s._accept()
        c = _sock(fd)
        c.setsockopt(SOL_SOCKET, _socket.SO_SNDTIMEO,
                     array.array("l", [send_timeout, 0]).tobytes())
        c.detach()
        return fd
    except OSError:
        return -1
    finally:
        s.detach()


def connect(path):
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        _via_dir_fd(path, s.connect)
    except OSError:
        s.close()
        raise
    return s.detach()
