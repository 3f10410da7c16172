"""`stackup container run -i/-t`: a pty from the container's devpts, the user's terminal
attached (a pty made by the test stands in for a real terminal), stdin with -i."""

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from stackup.testing.containers import leftovers

pytestmark = pytest.mark.root


class Terminal:
    """The CLI run on a fresh pty, as from a terminal of 24x80."""

    def __init__(self, argv, root):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["STACKUP_ROOT"] = str(root)
            os.execv(sys.executable, [sys.executable, "-m", "stackup", "container", *argv])
        self.resize(24, 80)
        self.out = b""

    def resize(self, rows, cols):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def read_until(self, marker: bytes, timeout=20.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.out and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                self.out += data
        assert marker in self.out, self.out
        return self.out

    def type(self, text: str):
        os.write(self.fd, text.encode())

    def exit_code(self):
        self.read_until(b"", 0)
        while True:  # drain so the CLI never blocks on a full pty
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    if not os.read(self.fd, 4096):
                        break
                except OSError:
                    break
            got, status = os.waitpid(self.pid, os.WNOHANG)
            if got:
                return os.waitstatus_to_exitcode(status)
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


def test_run_it_gives_a_shell_on_the_containers_pty(root, image):
    term = Terminal(["run", "--rm", "-it", image, "sh"], root)
    term.read_until(b"# ")
    term.type("tty; stat -c '%t,%T' /dev/console; stty size; echo TERM=$TERM\r")
    out = term.read_until(b"TERM=xterm")
    assert b"/dev/pts/0" in out and b"88,0" in out  # /dev/console is that pty (136, 0)
    assert b"24 80" in out
    term.resize(50, 132)  # SIGWINCH to the CLI, which resizes the container's pty
    time.sleep(0.2)
    term.type("stty size\r")
    term.read_until(b"50 132")
    term.type("exit 3\r")
    assert term.exit_code() == 3
    assert leftovers(root) == []


def test_keys_reach_the_program_raw_and_ctrl_c_interrupts_it(root, image):
    term = Terminal(["run", "--rm", "-it", image, "sh"], root)
    term.read_until(b"# ")
    term.type("sleep 100\r")
    time.sleep(0.5)
    term.type("\x03")  # ^C through the container's line discipline: SIGINT to sleep
    term.type("echo after=$?\r")
    term.read_until(b"after=130")
    term.type("exit\r")
    assert term.exit_code() == 0


def test_run_i_without_tty_passes_stdin_and_its_end(root, image):
    p = subprocess.run([sys.executable, "-m", "stackup", "container", "run", "--rm", "-i",
                        image, "sh", "-c", "wc -l; [ -t 0 ] || echo notty"],
                       input="a\nb\nc\n", capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, STACKUP_ROOT=str(root)))
    assert (p.returncode, p.stdout.split()) == (0, ["3", "notty"]), p.stderr


def test_run_i_of_a_command_that_exits_before_the_attach_is_not_an_error(root, image):
    # the shim's socket goes with the container: attaching finds nothing to attach to,
    # which is no error (it was one, after 5 seconds, most times)
    for _ in range(3):
        p = subprocess.run([sys.executable, "-m", "stackup", "container", "run", "--rm", "-i",
                            image, "sh", "-c", "echo quick; exit 5"], input="unread\n",
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, STACKUP_ROOT=str(root)))
        assert (p.returncode, p.stdout, p.stderr) == (5, "quick\n", "")
    assert leftovers(root) == []


def test_create_t_logs_the_tty_output(root, image):
    env = dict(os.environ, STACKUP_ROOT=str(root))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "stackup", "container", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=True).stdout

    cid = cli("create", "-t", image, "sh", "-c", "tty; [ -t 1 ] && echo stdout-is-tty").strip()
    cli("start", cid)
    assert cli("wait", cid).strip() == "0"
    logs = cli("logs", cid)
    assert "/dev/pts/0" in logs and "stdout-is-tty" in logs


def test_it_without_a_terminal_is_refused(root, image):
    p = subprocess.run([sys.executable, "-m", "stackup", "container", "run", "--rm", "-it",
                        image, "true"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, STACKUP_ROOT=str(root)))
    assert p.returncode == 2 and "not a TTY" in p.stderr
    assert leftovers(root) == []


def test_start_ai_attaches_the_terminal_to_a_created_container(root, image):
    env = dict(os.environ, STACKUP_ROOT=str(root))
    cid = subprocess.run([sys.executable, "-m", "stackup", "container", "create", "-it", image,
                          "sh"], env=env, capture_output=True, text=True, timeout=60,
                         check=True).stdout.strip()
    term = Terminal(["start", "-ai", cid], root)
    term.read_until(b"# ")
    term.type("echo hi-$((1+1))\r")
    term.read_until(b"hi-2")
    term.type("exit 5\r")
    assert term.exit_code() == 5


def test_attach_to_a_running_tty_container_sees_its_output_and_exit(root, image):
    env = dict(os.environ, STACKUP_ROOT=str(root))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "stackup", "container", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=True).stdout

    # it talks until told to stop: whenever the attach is ready, it sees the output
    cid = cli("create", "-t", "-v", f"{root.parent}:/shared", image, "sh", "-c",
              "until [ -e /shared/done ]; do echo still-here; sleep 0.05; done; exit 4").strip()
    cli("start", cid)
    term = Terminal(["attach", cid], root)
    term.read_until(b"still-here")
    (root.parent / "done").touch()
    assert term.exit_code() == 4
