"""The link worker: link operations run in a forked process that loaded pyroute2.

Each test runs a small script in a fresh interpreter (prefetch only forks when no
other thread runs, which is not so inside pytest).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from stackup.testing.processes import wait_gone

pytestmark = pytest.mark.root


def run_script(body: str, **env: str) -> str:
    script = textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_operations_run_in_the_worker_and_answer_here():
    out = run_script("""
        import sys
        from pathlib import Path
        from stackup.engine.network import linkworker, links
        assert linkworker.prefetch()
        print(links.exists("lo"), links.exists("stknosuch0"))
        try:
            links.create_veth("stkvnosuch0", "stk-nosuch0", Path("/proc/self/ns/net"), "eth9", None, None)
        except links.BridgeMissing as exc:
            print("BridgeMissing", exc)
        routes, connected = links.host_networks()
        print(any(str(n) == "127.0.0.0/8" for n in connected))
        # the work was done over there: pyroute2 never came into this process
        print("pyroute2" in sys.modules, "stackup.engine.network.rtnl" in sys.modules)
    """)
    assert out.splitlines() == ["True False", "BridgeMissing bridge stk-nosuch0 is missing",
                                "True", "False False"]


def test_kernel_errors_come_back_as_oserror():
    out = run_script("""
        from stackup.engine.network import linkworker
        assert linkworker.prefetch()
        try:
            linkworker.call("create_bridge", "x" * 20, [("10.254.254.1", 24)], None)
        except OSError as exc:
            print(type(exc).__name__, exc.errno is not None)
    """)
    assert out.split() == ["OSError", "True"]


def test_without_a_worker_the_same_calls_run_here():
    out = run_script("""
        import sys
        from stackup.engine.network import linkworker, links
        assert not linkworker.prefetch()
        print(links.exists("lo"), "stackup.engine.network.rtnl" in sys.modules)
    """, STACKUP_LINK_WORKER="0")
    assert out.split() == ["True", "True"]


def test_no_fork_while_threads_run():
    out = run_script("""
        import threading
        from stackup.engine.network import linkworker
        stop = threading.Event()
        t = threading.Thread(target=stop.wait); t.start()
        print(linkworker.prefetch())
        stop.set(); t.join()
    """)
    assert out.strip() == "False"


def test_the_worker_ends_with_the_command():
    out = run_script("""
        from stackup.engine.network import linkworker
        linkworker.prefetch()
        print(linkworker._worker.pid)
    """)
    pid = int(out)
    assert wait_gone(pid, timeout=10)


def test_soon_work_is_done_before_the_next_call_and_failures_come_with_finish():
    name = f"stkvs{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"], check=True)
    try:
        out = run_script(f"""
            from stackup.engine.network import linkworker, links
            assert linkworker.prefetch()
            links.delete_link_soon("{name}")
            print(links.exists("{name}"))
            linkworker.call_soon("create_bridge", "x" * 20, [("10.254.254.1", 24)], None)
            failures = linkworker.finish()
            print(len(failures), failures[0].startswith("create_bridge " + "x" * 20))
        """)
        assert out.split() == ["False", "1", "True"]
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True)
