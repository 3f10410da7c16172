"""Network namespaces standing in for containers in tests, and small traffic helpers.

A test makes namespaces named `stktest-<hex>` (`ip netns add`), runs servers and
clients inside them with `ip netns exec`, and removes them (and their processes)
afterwards. `ip netns exec` bind-mounts /etc/netns/<name>/resolv.conf and hosts
over /etc's, which is how a test gives a namespace stackup's resolv.conf.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PY = sys.executable


class Netns:
    """A network namespace made by a test (`ip netns add`), standing in for a container."""

    def __init__(self, name: str):
        self.name = name
        self.path = Path(f"/run/netns/{name}")
        self.procs: list[subprocess.Popen] = []

    def cmd(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, timeout: float = 20, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*argv), capture_output=True, text=True, timeout=timeout, check=check)

    def py(self, code: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
        return self.run(PY, "-c", code, *args, timeout=timeout)

    def spawn(self, *argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(self.cmd(*argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def write_etc(self, resolv: str | None = None, hosts: str | None = None) -> None:
        """Files `ip netns exec` bind-mounts over /etc/resolv.conf and /etc/hosts."""
        d = Path("/etc/netns") / self.name
        d.mkdir(parents=True, exist_ok=True)
        if resolv is not None:
            (d / "resolv.conf").write_text(resolv)
        if hosts is not None:
            (d / "hosts").write_text(hosts)

    def cleanup(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        out = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout
        for pid in out.split():
            try:
                os.kill(int(pid), 9)
            except ProcessLookupError:
                pass
        shutil.rmtree(Path("/etc/netns") / self.name, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def wait_tcp(host: str, port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


CONNECT = """
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    print("ok", data.decode(errors="replace").split("\\r\\n\\r\\n", 1)[-1].strip())
except OSError as e:
    print("fail", e)
"""


def tcp_from(ns: Netns, host: str, port: int, timeout: float = 2) -> str:
    """'ok <body>' when `ns` gets an HTTP answer from host:port, 'fail <reason>' otherwise."""
    return ns.py(CONNECT, host, str(port), str(timeout)).stdout.strip()


def http_server(ns: Netns, tmp_path: Path, body: str, port: int = 80) -> None:
    www = tmp_path / f"www-{ns.name}-{port}"
    www.mkdir()
    (www / "index.html").write_text(body + "\n")
    ns.spawn("busybox", "httpd", "-f", "-p", str(port), "-h", str(www))


CALLER_ECHO = ("import socket, sys\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
               "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen()\nwhile True:\n    c, a = s.accept()\n"
               "    c.recv(100); c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\nfrom ' + a[0].encode()); c.close()\n")


def caller_echo_server(ns: Netns, port: int = 80) -> None:
    """An HTTP server in `ns` whose page names the address that called it: how a test
    standing for 'the outside' sees whether traffic was masqueraded."""
    ns.spawn(sys.executable, "-c", CALLER_ECHO, str(port))


def join(ns: Netns, net: str, container_id: str, **attachment):
    """Attach `ns` to stackup's network `net` as container `container_id` would be, with
    stackup's resolv.conf; the endpoint."""
    from stackup.engine import network
    from stackup.engine.etcfiles import resolv_conf

    ep = network.connect(container_id, ns.path, [network.Attachment(net, **attachment)])[0]
    ns.write_etc(resolv=resolv_conf(ep.nameserver or ep.gateway))
    return ep
