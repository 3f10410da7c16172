"""`stackup watch`: each action of `develop.watch` on a running service. `sync` copies
new, changed and deleted files (the rule's `ignore`, `include` and the build
context's `.dockerignore` kept out; `initial_sync` at start), `sync+exec` runs its
command after the copy, `sync+restart` restarts the container, `rebuild` builds the
image again and recreates the container."""

import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.root


class Lines:
    """The lines a process writes on a stream, collected by a thread."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: sum(text in line for line in self.lines) >= count, timeout):
                raise AssertionError(f"no {text!r} (x{count}) in:\n" + "\n".join(self.lines))


def eventually(stack, command: str, expected: str, timeout: float = 30) -> None:
    """`command` in the service prints `expected` (the sync is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        out = stack("exec", "-T", "web", "sh", "-c", command, check=False).stdout
        if out == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{command}: {out!r}, not {expected!r}")
        time.sleep(0.1)


def test_watch_syncs_restarts_execs_and_rebuilds(stack, tmp_path):
    stack.workdir = tmp_path / "project"
    shutil.copytree(Path(__file__).parent, stack.workdir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    app = stack.workdir / "app"
    watcher = stack.popen("watch")
    try:
        out = Lines(watcher.stderr)
        out.wait_for("Watch enabled")
        # initial_sync brought the app's files before the first change
        assert stack("exec", "-T", "web", "cat", "/srv/app/index.txt").stdout == "one\n"

        (app / "index.txt").write_text("two\n")
        (app / "sub" / "deep").mkdir(parents=True)
        (app / "sub" / "deep" / "new.txt").write_text("new\n")
        (app / "scratch.tmp").write_text("ignored by the rule\n")
        (app / "cache").mkdir()
        (app / "cache" / "c.txt").write_text("ignored folder\n")
        (app / "secret.txt").write_text("kept out by .dockerignore\n")
        (stack.workdir / "docs" / "extra.md").write_text("# extra\n")
        (stack.workdir / "docs" / "notes.txt").write_text("not included\n")
        eventually(stack, "cat /srv/app/index.txt /srv/app/sub/deep/new.txt /srv/docs/extra.md",
                   "two\nnew\n# extra\n")
        listing = stack("exec", "-T", "web", "find", "/srv").stdout.split()
        for absent in ("/srv/app/scratch.tmp", "/srv/app/cache", "/srv/app/secret.txt", "/srv/docs/notes.txt"):
            assert absent not in listing

        shutil.rmtree(app / "sub")
        eventually(stack, "ls /srv/app", "index.txt\n")

        (stack.workdir / "hooks" / "hook.txt").write_text("hook ran\n")
        eventually(stack, "cat /srv/hook-ran.txt 2>/dev/null", "hook ran\n")

        (stack.workdir / "conf" / "greeting.txt").write_text("bonjour\n")
        out.wait_for("Restarting service 'web'")
        deadline = time.monotonic() + 30
        while "bonjour" not in stack("logs", "--no-log-prefix", "web").stdout:
            assert time.monotonic() < deadline, "the restarted container did not print the synced greeting"
            time.sleep(0.2)

        (stack.workdir / "image" / "version.txt").write_text("2\n")
        out.wait_for("service 'web' successfully built")
        assert stack("exec", "-T", "web", "cat", "/version.txt").stdout == "2\n"
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    assert watcher.returncode == 0
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_watch_refuses_a_stack_without_develop(stack, tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: stackup.local/busybox:latest\n")
    stack.workdir = tmp_path
    refused = stack("watch", "--no-up", check=False)
    assert refused.returncode == 2
    assert "none of the selected services is configured for watch" in refused.stderr
    refused = stack("up", "-d", "--watch", check=False)
    assert refused.returncode == 2 and "--watch cannot be used with -d" in refused.stderr
