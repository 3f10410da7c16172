"""Detached helpers: started on handed-over sockets, identity checks, stopping, reaping."""

from __future__ import annotations

import os
import socket
import textwrap

import pytest

from stackup.engine.network import procs
from stackup.testing import processes
from stackup.testing.processes import wait_gone


@pytest.fixture
def helper_module(tmp_path, monkeypatch):
    """A throwaway helper module (named with `stackup`) on PYTHONPATH: it answers each
    connection on the socket whose fd is its second argument with `hello`, and writes
    where `json` came from (a user's json.py in the current folder must not be it)."""
    pkg = tmp_path / "stackuphelpers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "echo.py").write_text(textwrap.dedent("""
        import json, signal, socket, sys, os
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        open(sys.argv[3], "w").write(json.__file__)
        listener = socket.socket(fileno=int(sys.argv[2]))
        while True:
            conn, _ = listener.accept()
            conn.sendall(b"hello")
            conn.close()
    """))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}")
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / "json.py").write_text("raise SystemExit('the current folder was on the path')\n")
    monkeypatch.chdir(cwd)
    return tmp_path


def test_a_helper_serves_the_handed_over_socket_and_stop_reaps_it(helper_module):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    address = listener.getsockname()
    with listener:
        pid = procs.start_on_sockets("stackuphelpers.echo", ["token-123", str(listener.fileno()),
                                                             str(helper_module / "json-from")],
                                     log=helper_module / "echo.log", pass_fds=(listener.fileno(),))
    try:
        # the caller's copy is closed: the connection waits in the helper's socket
        with socket.create_connection(address, timeout=10) as conn:
            conn.settimeout(10)
            assert conn.recv(5) == b"hello"
        assert procs.alive(pid, "token-123")
        assert not procs.alive(pid, "another-token")  # identity is checked, not just the pid
        assert "project" not in (helper_module / "json-from").read_text()
    finally:
        procs.stop(pid, "token-123")
    assert not os.path.exists(f"/proc/{pid}")  # stopped and reaped: not even a zombie


def test_a_helper_that_died_is_reaped_by_stop(helper_module):
    pid = procs.start_on_sockets("stackuphelpers.missing", ["token-456"], log=helper_module / "m.log",
                                 pass_fds=())
    assert wait_gone(pid, timeout=10) and processes.state(pid) == "Z"  # exited, not yet reaped
    assert not procs.alive(pid, "token-456")
    procs.stop(pid, "token-456")
    assert not os.path.exists(f"/proc/{pid}")
    log = (helper_module / "m.log").read_text()
    assert "No module named" in log, log


def test_alive_of_nothing():
    assert not procs.alive(None, "x")
    assert not procs.alive(2 ** 22 + 12345, "x")
    assert not procs.alive(os.getpid(), "token-that-is-not-in-my-cmdline-0xdeadbeef")
    procs.stop(None, "x")  # a no-op
