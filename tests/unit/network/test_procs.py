"""Detached helpers: readiness, identity checks, stopping, and failures that say why."""

from __future__ import annotations

import os
import textwrap
import time

import pytest

from stackup.engine.network import procs
from stackup.errors import StackupError


@pytest.fixture
def helper_module(tmp_path, monkeypatch):
    """A throwaway helper module (named with `stackup` and a token) on sys.path."""
    pkg = tmp_path / "stackuphelpers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(textwrap.dedent("""
        import signal, sys, os
        from stackup.engine.network.procs import detach_and_report_ready
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        detach_and_report_ready()
        while True:
            signal.pause()
    """))
    (pkg / "bad.py").write_text("raise SystemExit('cannot bind 10.0.0.1:53: address in use')\n")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}")
    return tmp_path


def test_spawn_waits_for_ready_and_stop_ends_it(helper_module):
    pid = procs.spawn("stackuphelpers.good", ["token-123"], log=helper_module / "good.log")
    try:
        assert procs.alive(pid, "token-123")
        assert not procs.alive(pid, "another-token")  # identity is checked, not just the pid
        assert os.getppid() != pid and pid != os.getpid()
    finally:
        procs.stop(pid, "token-123")
    deadline = time.monotonic() + 5
    while procs.alive(pid, "token-123") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not procs.alive(pid, "token-123")


def test_a_helper_that_fails_reports_its_last_words(helper_module):
    with pytest.raises(StackupError, match="address in use"):
        procs.spawn("stackuphelpers.bad", [], log=helper_module / "bad.log")


def test_alive_of_nothing():
    assert not procs.alive(None, "x")
    assert not procs.alive(2 ** 22 + 12345, "x")
    assert not procs.alive(os.getpid(), "token-that-is-not-in-my-cmdline-0xdeadbeef")
    procs.stop(None, "x")  # a no-op
