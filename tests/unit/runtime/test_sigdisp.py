"""Whether a stop signal can reach a container's PID 1 (read from /proc/PID/status)."""

import signal

from stackup.engine.runtime.sigdisp import in_sigwait, parse_status, signal_is_futile

TERM_BIT = f"{1 << (signal.SIGTERM - 1):016x}"
NONE = "0" * 16


def status(nspid="4242\t1", cgt=NONE, ign=NONE, blk=NONE):
    text = (f"Name:\tsleep\nPid:\t4242\nNSpid:\t{nspid}\nSigQ:\t0/63\nSigPnd:\t{NONE}\n"
            f"SigBlk:\t{blk}\nSigIgn:\t{ign}\nSigCgt:\t{cgt}\n")
    return parse_status(text)


def test_pid1_without_handler_cannot_receive_the_signal():
    assert signal_is_futile(status(), signal.SIGTERM)


def test_a_caught_ignored_or_blocked_signal_keeps_the_grace():
    assert not signal_is_futile(status(cgt=TERM_BIT), signal.SIGTERM)
    assert not signal_is_futile(status(ign=TERM_BIT), signal.SIGTERM)
    assert not signal_is_futile(status(blk=TERM_BIT), signal.SIGTERM)


def test_another_signals_handler_does_not_count():
    assert signal_is_futile(status(cgt=TERM_BIT), signal.SIGUSR1)


def test_a_process_that_is_not_pid1_of_its_namespace_dies_of_the_default_action():
    assert not signal_is_futile(status(nspid="4242"), signal.SIGTERM)  # host pid namespace
    assert not signal_is_futile(status(nspid="4242\t7"), signal.SIGTERM)  # shared namespace


def test_sigkill_and_sigstop_always_work():
    assert not signal_is_futile(status(), signal.SIGKILL)
    assert not signal_is_futile(status(), signal.SIGSTOP)


def test_an_unreadable_status_keeps_the_grace():
    assert not signal_is_futile({}, signal.SIGTERM)
    assert not signal_is_futile({**status(), "SigCgt": "zz"}, signal.SIGTERM)


def test_a_process_waiting_for_signals_is_seen_in_its_syscall():
    # tini waits in rt_sigtimedwait, its mask shown without the signals it waits for
    assert in_sigwait("128 0x7ffeffc9bb30 0x7ffeffc9ba60 0x4ab020 0x8 0x7 0x250ba6d0", "x86_64")
    assert not in_sigwait("61 0xffffffff 0x7ffd 0x0 0x0 0x0 0x0 0x7ffd 0x7f1", "x86_64")
    assert not in_sigwait("running", "x86_64")
    assert in_sigwait("137 0x1 0x2 0x3 0x0 0x0 0x0 0x7ffd 0x7f1", "aarch64")
    assert in_sigwait("128 0x1", "sparc64") is None  # cannot tell: the grace stays
