"""A stop that does not wait for nothing: when the container's PID 1 neither catches,
ignores nor blocks the stop signal, the kernel drops it, so stop sends SIGKILL at once
(and says so in debug output); a PID 1 that may act on it keeps its grace period."""

import pytest

from stackup.engine import notices
from stackup.engine.runtime.container import static_init
from stackup.testing.containers import output

from .test_lifecycle import started, wait_for_output

pytestmark = pytest.mark.root

NOTICE = "SIGKILL at once"


@pytest.fixture
def debug_lines(capsys):
    notices.set_debug(True)
    capsys.readouterr()
    yield lambda: capsys.readouterr().err
    notices.set_debug(False)


def test_pid1_without_a_handler_is_killed_at_once(rt, debug_lines):
    state = started(rt, ["sleep", "1000"])
    after = rt.stop(state.id, timeout=600)
    assert after.status == "exited" and after.exit_code == 137
    err = debug_lines()
    assert NOTICE in err and "SIGTERM" in err and state.name in err


def test_the_configured_stop_signal_is_the_one_looked_at(rt, debug_lines):
    script = 'trap "exit 9" TERM; echo ready; while true; do sleep 0.05; done'
    state = started(rt, ["sh", "-c", script], stop_signal="SIGUSR1")
    wait_for_output(rt, state.id, "ready")
    assert rt.stop(state.id, timeout=600).exit_code == 137  # catches TERM, not USR1
    assert NOTICE in debug_lines()


def test_a_shell_with_a_trap_keeps_its_grace(rt, debug_lines):
    script = 'trap "echo got-term; exit 7" TERM; echo ready; while true; do sleep 0.05; done'
    state = started(rt, ["sh", "-c", script])
    wait_for_output(rt, state.id, "ready")
    assert rt.stop(state.id, timeout=30).exit_code == 7
    assert "got-term" in output(rt, state.id)
    assert NOTICE not in debug_lines()


def test_a_pid1_that_ignores_the_signal_keeps_its_grace(rt, debug_lines):
    state = started(rt, ["sh", "-c", 'trap "" TERM; echo ready; sleep 1000'])
    wait_for_output(rt, state.id, "ready")
    assert rt.stop(state.id, timeout=0).exit_code == 137  # the grace ran out, then SIGKILL
    assert NOTICE not in debug_lines()


@pytest.mark.parametrize("which", ["tini", "stackup"])
def test_an_init_forwards_and_keeps_the_grace(rt, monkeypatch, debug_lines, which):
    if which == "stackup":
        monkeypatch.setenv("STACKUP_INIT", "")  # no static tini: stackup's own init
    else:
        assert static_init(), "Debian's tini package (tini-static) is needed"
    state = started(rt, ["sh", "-c", "echo ready; sleep 1000"], init=True)
    wait_for_output(rt, state.id, "ready")
    # the init catches SIGTERM and forwards it to the shell, which dies of it (143)
    assert rt.stop(state.id, timeout=30).exit_code == 143
    assert NOTICE not in debug_lines()
