"""Forking the launcher (the child that starts PID 1: `launch.child_main`) and hearing how
it went. Shared by the shim (each restart) and the CLI's first start
(`launch.prestart_then_exec_shim`).

It imports only `os`: the shim runs under `python3 -S -E` with interpreter built-ins only,
and imports the heavy launch module in the forked child, after the fork."""

import os


def start_pid1(cdir, out_w, err_w, in_r, close_in_child=(), child_prepare=None):
    """Fork the launcher and give it PID 1's stdio ends (`in_r` -1: /dev/null), which are
    closed here once it has them; the child first closes `close_in_child` (the caller's
    ends) and runs `child_prepare`. Returns (PID 1's pid or 0, failure): failure is
    "CODE MESSAGE" from the setup, or "" once PID 1 has exec'd."""
    rep_r, rep_w = os.pipe()
    fail_r, fail_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            for fd in (rep_r, fail_r, *close_in_child):
                if fd >= 0:
                    os.close(fd)
            if child_prepare is not None:
                child_prepare()
            from stackup.engine.runtime.launch import child_main

            child_main(cdir, out_w, err_w, rep_w, fail_w, in_r)
        finally:
            os._exit(125)
    for fd in (out_w, err_w, rep_w, fail_w, in_r):
        if fd >= 0:
            os.close(fd)
    report = read_all(rep_r)  # "pid N", written before the launcher exits
    os.close(rep_r)
    try:
        os.waitpid(child, 0)
    except ChildProcessError:
        pass  # reaped already by a handler of the caller's
    pid = int(report.split()[1]) if report.startswith(b"pid ") else 0
    failure = read_all(fail_r)  # EOF: PID 1 has exec'd (its end is close-on-exec)
    os.close(fail_r)
    return pid, failure.decode(errors="replace")


def read_all(fd):
    """Everything `fd` gives until EOF."""
    chunks = []
    while data := os.read(fd, 65536):
        chunks.append(data)
    return b"".join(chunks)
