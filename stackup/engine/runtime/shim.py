"""The per-container shim: parent of the container's PID 1, its logger and its restarter.

Run as `python3 -S -E -c "...import main..." stackup-shim CDIR ID READY_FD RESTART LOG_MAX
LOG_FILES AUTO_REMOVE HEALTH_INTERVAL [adopt=PID,OUT,ERR,OOMS]`, detached (setsid) so it outlives the CLI. It must stay small (a few MB per
container), so it imports only interpreter built-ins and tiny C modules: no `json`
package (the C scanner and encoder from `_json` are used directly), no `re`, no
`subprocess`, no ctypes wrapper (one `_ctypes` call sets the child-subreaper flag).
The heavy work of starting PID 1 happens in a forked child, which imports the
runtime's launch module after the fork, so none of it stays in the shim.

What it does: forks the child that starts PID 1 (the child exits, PID 1 is adopted by
the shim as a subreaper); writes PID 1's stdout and stderr to `container.log` as json-file
lines with size rotation; records the state (running, exit code, OOM, times, restart
count) in the container's state file under its lock; applies the restart policy with
back-off; runs the healthcheck every HEALTH_INTERVAL seconds in a forked child; with
auto-remove, runs `stackup container rm` when done.
"""

import _json
import _signal as signal  # the C module: `signal` would import enum
import os
import select
import sys
import time

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
RESET_AFTER = 10.0  # a run this long resets the back-off, as Docker does
CHUNK = 65536
MAX_LINE = 16384  # Docker splits longer lines into partial entries


PKG_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
if PKG_ROOT not in sys.path:
    sys.path.insert(0, PKG_ROOT)
from stackup.engine.runtime.cgpaths import oom_kills as oom_count  # noqa: E402
from stackup.engine.runtime import statefile  # noqa: E402
from stackup.engine.runtime.pid1fork import start_pid1  # noqa: E402


def now_rfc3339():
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + \
        ".%09dZ" % (ns % 1_000_000_000)


class State:
    """The container's state file, updated under its lock as the CLI does (statefile)."""

    def __init__(self, cdir):
        self.cdir = cdir
        self.path = cdir + "/" + statefile.FILE

    def update(self, **changes):
        """Apply `changes`; a "running" never overwrites a "paused" set meanwhile (the CLI
        may have recorded and paused a container the shim was still starting up for).
        Written atomically but not fsynced: what the shim records (running, an exit) is
        void after a machine crash anyway, and the next command repairs it. None when the
        container was removed under us (rm -f): nothing to record."""
        def change(state):
            if changes.get("status") == statefile.RUNNING and \
                    state["status"] == statefile.PAUSED:
                state.update(changes, status=statefile.PAUSED)
            else:
                state.update(changes)

        return statefile.update(self.cdir, change)

    def current(self, key):
        """One recorded value; None when there is none (or no state to read)."""
        try:
            state = statefile.read(self.path)
        except (OSError, statefile.DamagedState):
            return None
        return state.get(key) if state else None


class LogWriter:
    """json-file log lines with size-based rotation (container.log, .1, .2 ...)."""

    def __init__(self, path, max_size, max_files):
        self.path = path
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        self.partial = {"stdout": b"", "stderr": b""}

    def feed(self, stream, data):
        buf = self.partial[stream] + data
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[: nl + 1], buf[nl + 1:]
            while len(line) > MAX_LINE:
                self.write(stream, line[:MAX_LINE])
                line = line[MAX_LINE:]
            self.write(stream, line)
        while len(buf) >= MAX_LINE:
            self.write(stream, buf[:MAX_LINE])
            buf = buf[MAX_LINE:]
        self.partial[stream] = buf

    def flush(self, stream):
        if self.partial[stream]:
            self.write(stream, self.partial[stream])
            self.partial[stream] = b""

    def write(self, stream, raw):
        text = raw.decode("utf-8", "replace")
        line = ('{"log":' + _json.encode_basestring_ascii(text) + ',"stream":"' + stream +
                '","time":"' + now_rfc3339() + '"}\n').encode()
        if self.max_size and self.size + len(line) > self.max_size and self.size:
            self.rotate()
        os.write(self.fd, line)
        self.size += len(line)

    def rotate(self):
        os.close(self.fd)
        for i in range(self.max_files - 1, 0, -1):
            older = "%s.%d" % (self.path, i)
            newer = self.path if i == 1 else "%s.%d" % (self.path, i - 1)
            if os.path.exists(newer):
                os.replace(newer, older)
        if self.max_files == 1:
            os.unlink(self.path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC |
                          os.O_CLOEXEC, 0o640)
        self.size = 0


def libc_call(name, *args):
    """Call a libc function by name (the `_ctypes` C module alone, not the ctypes package)."""
    import _ctypes

    return _ctypes.call_function(_ctypes.dlsym(_ctypes.dlopen(None, 0), name), args)


def set_child_subreaper():
    libc_call("prctl", 36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def shrink():
    """Give freed heap back to the kernel before idling (the shim's RSS is what it costs)."""
    import gc

    gc.collect()
    libc_call("malloc_trim", 0)


def restart_wanted(policy, max_restarts, code, restarts, stopped_by_user):
    """Docker's restart policies; a stop or kill by the user always wins."""
    if stopped_by_user:
        return False
    if policy in ("always", "unless-stopped"):
        return True
    if policy == "on-failure" and code != 0:
        return not max_restarts or restarts < max_restarts
    return False


def next_backoff(backoff, ran_for):
    """The delay before the next restart: doubled each time, reset after a long run."""
    if ran_for >= RESET_AFTER:
        return BACKOFF_START
    return min(backoff * 2, BACKOFF_MAX)


def default_signals():
    """In a forked child: the signal dispositions a fresh process has, no wake-up fd."""
    signal.set_wakeup_fd(-1)
    for s in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(s, signal.SIG_DFL)


class Shim:
    def __init__(self, cdir, cid, ready_fd, restart, log_max, log_files, auto_remove,
                 adopt=None, health_interval=0.0):
        self.cdir = cdir
        self.id = cid
        self.ready_fd = ready_fd
        name, _, count = restart.partition(":")
        self.policy = name
        self.max_restarts = int(count or 0)
        self.auto_remove = auto_remove
        # (pid, out_r, err_r, OOM kills before it started) of a PID 1 started for us
        self.adopt = adopt
        self.health_interval = health_interval  # seconds between healthchecks, 0: none
        self.health_pid = 0
        self.state = State(cdir)
        spec = self.state.current("spec") or {}
        self.tty = bool(spec.get("tty"))
        self.stdin_open = bool(spec.get("stdin_open"))
        self.stdin_w = -1  # our end of PID 1's stdin (-i without a tty), until handed over
        self.clients = []  # attached connections that get the tty's output
        self.listen_fd = -1
        if self.tty or self.stdin_open:
            from stackup.engine.runtime import fdpass

            self.fdpass = fdpass
            self.listen_fd = fdpass.listen(cdir + "/attach.sock")
        self.log = LogWriter(cdir + "/container.log", log_max, log_files)
        self.pkg_root = PKG_ROOT
        wake_r, self.wake_w = os.pipe()
        self.wake_r = wake_r
        os.set_blocking(wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    # --- starting PID 1 ----------------------------------------------------------
    def spawn(self):
        """Fork the launcher; return (pid of PID 1, out_r, err_r) or raise RuntimeError."""
        out_r, out_w = self.fdpass.socketpair() if self.tty else os.pipe()
        in_r = -1
        if self.stdin_open and not self.tty:
            in_r, self.stdin_w = os.pipe()
        err_r, err_w = os.pipe()
        pid, failure = start_pid1(self.cdir, out_w, err_w, in_r,
                                  (out_r, err_r, self.wake_r, self.wake_w, self.stdin_w,
                                   self.listen_fd, *self.clients), default_signals)
        return self.collect(pid, out_r, err_r, failure)

    def collect(self, pid, out_r, err_r, failure):
        """PID 1's output ends once it has exec'd, or RuntimeError for its setup failure."""
        if failure:
            code, _, message = failure.partition(" ")
            if pid:
                self.reap(pid)
            os.close(out_r)
            os.close(err_r)
            raise RuntimeError(int(code) if code.isdigit() else 125, message)
        if not pid:
            os.close(out_r)
            os.close(err_r)
            raise RuntimeError(125, "the container's init did not start")
        if self.tty:
            sock = out_r
            _tag, out_r = self.fdpass.recv_fd(sock)
            os.close(sock)
            if out_r < 0:
                os.close(err_r)
                raise RuntimeError(125, "the container's pty was not passed on")
        return pid, out_r, err_r

    def health_tick(self):
        """Run one healthcheck in a forked child (it imports what it needs after the fork;
        the shim reaps it with the other children)."""
        if self.health_pid and os.path.exists("/proc/%d" % self.health_pid):
            return  # the previous check is still running
        try:
            child = os.fork()
        except OSError:
            return
        if child:
            self.health_pid = child
            return
        if child == 0:
            try:
                default_signals()
                os.closerange(3, 1024)
                from stackup.engine.runtime.health import shim_tick

                shim_tick(self.cdir)
            finally:
                os._exit(0)

    def reap(self, pid):
        while True:
            try:
                got, status = os.waitpid(pid, 0)
                return status
            except InterruptedError:
                continue
            except ChildProcessError:
                return 0

    # --- running -----------------------------------------------------------------
    def wait_exit(self, pid, out_r, err_r):
        """Log output until PID 1 exits; returns its wait status."""
        streams = {out_r: "stdout", err_r: "stderr"}
        status = None
        drain_until = None
        next_check = time.monotonic() + self.health_interval if self.health_interval else None
        # `run -it`: the tty's output waits in the pty until the CLI has attached
        held = {}
        if self.tty and os.path.exists(self.cdir + "/attach-wait"):
            held[out_r] = streams.pop(out_r)
            hold_until = time.monotonic() + 10.0
        while streams or held:
            timeout = None
            if held:
                timeout = max(0.0, hold_until - time.monotonic())
                if timeout == 0 or self.clients:
                    streams.update(held)
                    held.clear()
                    self.unlink("attach-wait")
                    continue
            elif status is not None:
                timeout = max(0.0, drain_until - time.monotonic())
                if timeout == 0:
                    break
            elif next_check is not None:
                now = time.monotonic()
                if now >= next_check:
                    self.health_tick()
                    next_check = now + self.health_interval
                timeout = max(0.0, next_check - now)
            extra = [self.listen_fd] if self.listen_fd >= 0 else []
            try:
                ready, _, _ = select.select(list(streams) + [self.wake_r] + extra, [], [],
                                            timeout)
            except InterruptedError:
                continue
            for fd in ready:
                if fd == self.wake_r:
                    try:
                        os.read(self.wake_r, 512)
                    except BlockingIOError:
                        pass
                    continue
                if fd == self.listen_fd:
                    self.attach(out_r)
                    continue
                try:
                    data = os.read(fd, CHUNK)
                except OSError:  # EIO: a pty whose last slave holder is gone
                    data = b""
                if data:
                    self.log.feed(streams[fd], data)
                    if self.tty:
                        self.to_clients(data)
                else:
                    self.log.flush(streams[fd])
                    os.close(fd)
                    del streams[fd]
            if status is None:
                status = self.poll(pid)
                if status is not None:
                    drain_until = time.monotonic() + 2.0
        for fd, name in streams.items():
            self.log.flush(name)
            os.close(fd)
        if status is None:
            status = self.reap(pid)
        self.stop_health_check()
        self.detach_all()
        return status

    # --- attaching (tty or -i) ------------------------------------------------------
    def attach(self, master):
        """A client connected to attach.sock: it gets the input end (the pty master, or
        PID 1's stdin pipe, handed over once) and, with a tty, the output from now on."""
        conn = self.fdpass.accept(self.listen_fd)
        if conn < 0:
            return
        try:
            if self.tty:
                self.fdpass.send_fd(conn, master, b"t")
                self.clients.append(conn)
                return
            self.fdpass.send_fd(conn, self.stdin_w, b"i")
        except OSError:
            pass
        if self.stdin_w >= 0:
            os.close(self.stdin_w)  # the client has it now: its EOF is PID 1's EOF
            self.stdin_w = -1
        os.close(conn)

    def to_clients(self, data):
        for conn in list(self.clients):
            try:
                os.write(conn, data)
            except OSError:  # gone: it detached
                self.clients.remove(conn)
                os.close(conn)

    def detach_all(self):
        for conn in self.clients:
            os.close(conn)
        self.clients = []
        if self.stdin_w >= 0:
            os.close(self.stdin_w)
            self.stdin_w = -1

    def unlink(self, name):
        try:
            os.unlink(self.cdir + "/" + name)
        except FileNotFoundError:
            pass

    def stop_health_check(self):
        """A check still running when PID 1 is gone has nothing left to check."""
        if self.health_pid:
            try:
                os.kill(self.health_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.reap(self.health_pid)
            self.health_pid = 0

    def poll(self, pid):
        """Reap any exited child (orphans included); the status of `pid` if it is gone."""
        found = None
        while True:
            try:
                got, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return found
            if got == 0:
                return found
            if got == pid:
                found = status

    def should_restart(self, code, restarts):
        return restart_wanted(self.policy, self.max_restarts, code, restarts,
                              os.path.exists(self.cdir + "/stop-requested"))

    def run(self):
        restarts = int(self.state.current("restart_count") or 0)
        backoff = BACKOFF_START
        first = True
        while True:
            ooms = oom_count(self.id)
            try:
                if self.adopt:
                    pid, out_r, err_r, ooms = self.adopt[:4]
                    if len(self.adopt) > 4:
                        self.stdin_w = self.adopt[4]
                    self.adopt = None
                else:
                    pid, out_r, err_r = self.spawn()
            except RuntimeError as exc:
                code, message = exc.args
                self.state.update(status=statefile.EXITED, pid=0, exit_code=code, error=message,
                                  finished_at=now_rfc3339())
                if first:
                    self.ready("error %d %s" % (code, message))
                break
            started = time.monotonic()
            self.state.update(status=statefile.RUNNING, pid=pid, shim_pid=os.getpid(), error="",
                              started_at=now_rfc3339(), restart_count=restarts)
            if first:
                self.ready("ok %d" % pid)
                first = False
            shrink()
            status = self.wait_exit(pid, out_r, err_r)
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
            oom = oom_count(self.id) > ooms
            again = self.should_restart(code, restarts)
            self.state.update(status=statefile.RESTARTING if again else statefile.EXITED, pid=0,
                              exit_code=code, oom_killed=oom, finished_at=now_rfc3339())
            if not again:
                break
            if time.monotonic() - started >= RESET_AFTER:
                backoff = BACKOFF_START
            if not self.sleep_unless_stopped(backoff):
                self.state.update(status=statefile.EXITED)
                break
            backoff = next_backoff(backoff, 0.0)
            restarts += 1
        if self.listen_fd >= 0:
            os.close(self.listen_fd)
            self.unlink("attach.sock")
        if self.auto_remove:
            self.remove_container()

    def sleep_unless_stopped(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if os.path.exists(self.cdir + "/stop-requested"):
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return True

    def ready(self, message):
        if self.ready_fd >= 0:
            try:
                os.write(self.ready_fd, (message + "\n").encode())
            finally:
                os.close(self.ready_fd)
                self.ready_fd = -1

    def remove_container(self):
        """`--rm` of a detached container: the CLI's own rm does the teardown."""
        signal.set_wakeup_fd(-1)
        env = dict(os.environ)
        env["PYTHONPATH"] = self.pkg_root
        python = env.get("STACKUP_PYTHON") or sys.executable  # the CLI's, with its packages
        try:
            pid = os.fork()
        except OSError:
            return
        if pid == 0:
            try:
                os.execve(python, [python, "-m", "stackup", "container", "rm", "-f", self.id],
                          env)
            finally:
                os._exit(127)
        self.reap(pid)


def main(argv):
    if len(argv) not in (10, 11) or argv[1] != "stackup-shim":  # argv[0]: script or "-c"
        sys.stderr.write("usage: shim.py stackup-shim CDIR ID READY_FD RESTART LOG_MAX "
                         "LOG_FILES AUTO_REMOVE HEALTH_INTERVAL [adopt=PID,OUT,ERR,OOMS]\n")
        return 2
    cdir, cid, ready_fd, restart, log_max, log_files, auto_remove, health = argv[2:10]
    adopt = None
    if len(argv) == 11 and argv[10].startswith("adopt="):
        adopt = tuple(int(x) for x in argv[10][6:].split(","))
    os.chdir("/")  # started in the package root so that the import finds the shim
    with open("/proc/self/comm", "w") as f:  # `ps` shows "stackup-shim", not "python3"
        f.write("stackup-shim")
    set_child_subreaper()
    shim = Shim(cdir, cid, int(ready_fd), restart, int(log_max), int(log_files),
                auto_remove == "1", adopt, float(health))
    shim.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
