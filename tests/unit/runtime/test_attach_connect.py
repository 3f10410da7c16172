"""`attach.connect`: the input end from a shim's attach.sock, and nothing (no error)
when the container exited before the client could attach."""

import os
import threading

import pytest

from stackup.engine.runtime import attach, fdpass
from stackup.errors import StackupError


def test_a_listening_shim_hands_over_the_input_end(tmp_path):
    listener = fdpass.listen(str(tmp_path / "attach.sock"))
    r, w = os.pipe()

    def shim():  # accept the CLI's connection and hand it the pipe's end
        conn = fdpass.accept(listener)
        fdpass.send_fd(conn, w, b"i")
        os.close(conn)

    thread = threading.Thread(target=shim, daemon=True)
    thread.start()
    try:
        conn, fd = attach.connect(tmp_path, alive=lambda: True)
        thread.join()
        os.write(fd, b"typed")
        assert os.read(r, 16) == b"typed"
        os.close(fd)
        os.close(conn)
    finally:
        for end in (listener, r, w):
            os.close(end)


def test_a_container_gone_before_the_attach_gives_nothing(tmp_path):
    calls = []

    def alive():
        calls.append(1)
        return len(calls) < 3   # running at first, then exited (its socket never answered)

    assert attach.connect(tmp_path, timeout=30, alive=alive) == (-1, -1)
    assert len(calls) == 3


def test_without_alive_a_silent_socket_is_an_error(tmp_path):
    with pytest.raises(StackupError, match="does not answer"):
        attach.connect(tmp_path, timeout=0.05)


def test_a_connection_the_shim_closes_unanswered_is_an_end_of_input(tmp_path, monkeypatch):
    listener = fdpass.listen(str(tmp_path / "attach.sock"))
    original = fdpass.connect

    def connect_then_shim_exits(path):
        fd = original(path)   # queued, never accepted
        os.close(listener)    # the shim's exit closes its socket
        return fd

    monkeypatch.setattr(fdpass, "connect", connect_then_shim_exits)
    conn, fd = attach.connect(tmp_path, alive=lambda: True)
    assert conn >= 0 and fd == -1
    os.close(conn)
