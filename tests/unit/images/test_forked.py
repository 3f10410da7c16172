"""Layer jobs in forked children: results in order, progress relayed, bounded, errors and
interruptions handled without leaving a child or its temporary files behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stackup.engine.images import forked
from stackup.engine.images.errors import DigestMismatchError, ImageError
from stackup.engine.images.progress import Progress
from stackup.testing.processes import gone, wait_gone


class Recording(Progress):
    def __init__(self):
        self.calls: list[tuple] = []

    def start(self, key, label, total):
        self.calls.append(("start", key, label, total))

    def advance(self, key, n):
        self.calls.append(("advance", key, n))

    def finish(self, key, status):
        self.calls.append(("finish", key, status))

    def message(self, text):
        self.calls.append(("message", text))


def job(name: str, result, pause: float = 0.0):
    def work(progress: Progress):
        progress.start(name, "Downloading", 3)
        time.sleep(pause)
        progress.advance(name, 3)
        progress.finish(name, "Pull complete")
        return result
    return work


def run(jobs, parallel, progress=None) -> list:
    results: list = []
    forked.run(jobs, parallel, progress or Progress(), take=results.append)
    return results


def test_each_job_runs_in_a_process_of_its_own_and_its_result_comes_back():
    results = run([lambda p, n=n: (n, os.getpid()) for n in range(4)], 2)
    assert sorted(n for n, _ in results) == [0, 1, 2, 3]
    pids = {pid for _, pid in results}
    assert len(pids) == 4 and os.getpid() not in pids


def test_progress_calls_reach_the_parent_and_never_more_than_parallel_run_at_once():
    progress = Recording()
    results = run([job(f"l{n}", {"layer": n}, 0.05) for n in range(5)], 2, progress)
    assert sorted(r["layer"] for r in results) == list(range(5))
    running, most = set(), 0
    for call in progress.calls:
        if call[0] == "start":
            running.add(call[1])
        elif call[0] == "finish":
            running.discard(call[1])
        most = max(most, len(running))
    assert most == 2
    assert [c for c in progress.calls if c[1] == "l3"] == [
        ("start", "l3", "Downloading", 3), ("advance", "l3", 3), ("finish", "l3", "Pull complete")]


def test_the_first_error_is_raised_after_the_running_jobs_end_and_no_more_start(tmp_path):
    """What the jobs that did run made is handed over all the same (the caller removes it)."""
    def failing(progress):
        raise DigestMismatchError("layer sha256:ab is corrupt")

    def marking(n):
        def work(progress):
            time.sleep(0.2)
            (tmp_path / f"ran{n}").touch()
            return n
        return work

    taken: list = []
    with pytest.raises(DigestMismatchError, match="layer sha256:ab is corrupt"):
        forked.run([marking(0), failing, marking(2)], 2, Progress(), take=taken.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ran0"]  # finished; job 2 never started
    assert taken == [0]


def test_a_child_that_dies_without_an_answer_is_an_error():
    with pytest.raises(ImageError, match="ended unexpectedly"):
        run([lambda p: os._exit(3)], 1)


def test_an_exception_that_cannot_be_pickled_arrives_as_its_text():
    class Local(Exception):  # a local class cannot be pickled
        pass

    def failing(progress):
        raise Local("cannot parse the layer")

    with pytest.raises(ImageError, match="Local: cannot parse the layer"):
        run([failing], 1)


def test_an_interrupted_run_ends_its_children_which_clean_up_first(tmp_path):
    def slow(n):
        def work(progress):
            temp = tmp_path / f"tmp{n}"
            temp.write_text(str(os.getpid()))
            try:
                progress.message(f"started {n}")
                time.sleep(30)
            finally:
                temp.unlink()
        return work

    class Interrupting(Recording):
        def message(self, text):
            super().message(text)
            if len(self.calls) == 2:
                raise KeyboardInterrupt

    progress = Interrupting()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run([slow(0), slow(1), slow(2)], 2, progress)
    assert time.monotonic() - started < 10
    assert list(tmp_path.iterdir()) == []  # both children removed their files (SIGTERM unwinds)


def test_children_end_when_the_parent_is_killed(tmp_path):
    pidfile = tmp_path / "child"
    program = textwrap.dedent(f"""
        import os, time
        from stackup.engine.images import forked
        from stackup.engine.images.progress import Progress
        def run(progress):
            open({str(pidfile)!r}, "w").write(str(os.getpid()))
            time.sleep(60)
        forked.run([run], 1, Progress(), take=print)
    """)
    parent = subprocess.Popen([sys.executable, "-c", program])
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pidfile.read_text())
        assert not gone(child)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert wait_gone(child, 10)


def test_results_pass_as_plain_pickles(tmp_path: Path):
    results = run([lambda p: [(tmp_path / "x", {"chain_id": "sha256:1"})]], 1)
    assert results == [[(tmp_path / "x", {"chain_id": "sha256:1"})]]
