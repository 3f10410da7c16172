"""`run` attached as compose's is: stdin passed through (a pipe with -T or piped input),
a TTY from the container's devpts when run from a terminal (a pty made by the test
stands in for one), the command's exit code, and nothing left afterwards."""

import os
import pty
import select
import time

import pytest

from stackup.testing.stack import http_get, stackup_command

pytestmark = pytest.mark.root


class Terminal:
    """`stackup ARGS` run with a fresh pty as its terminal (stdin, stdout and stderr)."""

    def __init__(self, stack, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(stack.workdir)
            argv = stackup_command() + list(args)
            os.execve(argv[0], argv, stack.env)
        self.out = b""

    def read_until(self, marker: bytes, timeout: float = 60.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.out and time.monotonic() < deadline:
            if not self._read(0.1):
                break
        assert marker in self.out, self.out
        return self.out

    def _read(self, wait: float) -> bool:
        """False at the end of the terminal's output."""
        ready, _, _ = select.select([self.fd], [], [], wait)
        if ready:
            try:
                data = os.read(self.fd, 4096)
            except OSError:  # EIO: the CLI and its children closed the terminal
                return False
            if not data:
                return False
            self.out += data
        return True

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def exit_code(self) -> int:
        while self._read(0.1):  # drain, so that the CLI never blocks on a full pty
            got, status = os.waitpid(self.pid, os.WNOHANG)
            if got:
                return os.waitstatus_to_exitcode(status)
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


def test_piped_stdin_reaches_the_command_and_its_exit_code_is_ours(stack):
    counted = stack("run", "--rm", "-T", "tool", "wc", "-l", input="a\nb\n")
    assert counted.stdout.strip() == "2"
    # no -T: piped input turns the TTY off by itself, as in compose
    echoed = stack("run", "--rm", "tool", "sh", "-c", "cat; [ -t 0 ] || echo no-tty; exit 4",
                   input="hi\n", check=False)
    assert (echoed.returncode, echoed.stdout) == (4, "hi\nno-tty\n"), echoed.stderr
    # stderr stays stderr; -e, -w, -u and --entrypoint still apply
    split = stack("run", "--rm", "-T", "-e", "WHO=me", "-w", "/tmp", "-u", "65534",
                  "--entrypoint", "sh -c", "tool", "cat >&2; echo $WHO $(pwd) $(id -u)", input="to-err\n")
    assert split.stdout == "me /tmp 65534\n"
    assert split.stderr.splitlines()[-1] == "to-err"   # after the (plain) progress lines
    # into a bind mount (-v)
    data = stack.root.parent / "data"
    data.mkdir()
    stack("run", "--rm", "-T", "-v", f"{data}:/data", "tool", "sh", "-c", "cat > /data/got", input="kept\n")
    assert (data / "got").read_text() == "kept\n"
    # an empty stdin is an end of input, not a wait
    assert stack("run", "--rm", "tool", "cat").stdout == ""
    # a command that cannot start: Docker's code, one line, and --rm still removes it
    missing = stack("run", "--rm", "-T", "tool", "no-such-command", input="x\n", check=False)
    assert missing.returncode == 127 and "no-such-command" in missing.stderr.splitlines()[-1]
    assert not [row for row in stack.ps("-a") if row["Service"] == "tool"]   # --rm removed them
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_a_terminal_gets_a_tty_session(stack):
    term = Terminal(stack, "run", "--rm", "tool", "sh")
    term.read_until(b"# ")
    # (a marker the progress lines cannot hold: the one-off's random name may hold "42")
    term.type("tty; echo answer=$((6*7)); exit 3\n")
    out = term.read_until(b"answer=42")
    assert b"/dev/pts/" in out
    assert term.exit_code() == 3
    assert not [row for row in stack.ps("-a") if row["Service"] == "tool"]
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_T_on_a_terminal_passes_stdin_without_a_tty(stack):
    term = Terminal(stack, "run", "--rm", "-T", "tool", "sh", "-c",
                    "read line; [ -t 0 ] || echo no-tty-$line; exit 5")
    term.type("typed\n")
    term.read_until(b"no-tty-typed")
    assert term.exit_code() == 5
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_detached_one_off_with_service_ports_serves_until_down(stack):
    name = stack("run", "-d", "--service-ports", "tool", "sh", "-c",
                 "mkdir /w && echo served > /w/index.html && exec httpd -f -p 80 -h /w").stdout.strip()
    assert name.startswith("runtty-tool-run-")
    rows = {row["Name"]: row for row in stack.ps("-a")}
    assert rows[name]["State"] == "running"
    assert http_get(f"http://127.0.0.1:{stack.env['PORT']}/") == "served\n"
    stack("down", "-v")
    assert stack.wait_gone() == []


def test_up_keeps_stdin_open_for_stdin_open_services(stack):
    stack("up", "-d", "reader")
    assert [(row["Service"], row["State"]) for row in stack.ps("-a")] == [("reader", "running")]
    stack("down", "-v")
    assert stack.wait_gone() == []
