"""Benchmark: joining a namespace to a network, DNS lookups from inside, port throughput.

    sudo .venv/bin/python bench/network_join.py [--runs 20]

Prints medians. Join = veth pair, address, route, name registered (state
written, so the DNS server answers it). Lookup = a query from inside a
namespace to the network's DNS server (a Python client living in the namespace,
so process start-up is not measured). Throughput = 64 MiB through a published
port (userland proxy) vs straight to the namespace's address.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = tempfile.mkdtemp(prefix="stackup-bench-")
os.environ["STACKUP_ROOT"] = ROOT

from stackup.engine import network  # noqa: E402
from stackup.engine.network import Attachment  # noqa: E402
from stackup.testing.netns import Netns, wait_tcp  # noqa: E402

LOOKUP_CLIENT = """
import socket, sys, time, statistics
from dnslib import DNSRecord
server, name, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
times = []
for i in range(runs):
    q = DNSRecord.question(name).pack()
    t = time.perf_counter(); s.sendto(q, (server, 53)); data = s.recv(4096)
    times.append(time.perf_counter() - t)
    assert DNSRecord.parse(data).rr, "no answer"
print(statistics.median(times) * 1000)
"""

SINK = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 9000)); s.listen()
while True:
    c, _ = s.accept()
    while c.recv(1 << 20):
        pass
    c.sendall(b'done'); c.close()
"""

MIB = 64


def send(host: str, port: int) -> float:
    """MiB/s for MIB MiB sent to a sink that answers when it has read everything."""
    import socket

    block = b"\0" * (1 << 20)
    t = time.perf_counter()
    with socket.create_connection((host, port)) as s:
        for _ in range(MIB):
            s.sendall(block)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(16) == b"done"
    return MIB / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    made: list[Netns] = []
    try:
        network.create_network("bench")
        joins, endpoints = [], []
        for i in range(args.runs):
            ns = Netns(f"stktest-{secrets.token_hex(4)}")
            subprocess.run(["ip", "netns", "add", ns.name], check=True)
            made.append(ns)
            cid = f"{i:02d}" + secrets.token_hex(31)
            t = time.perf_counter()
            endpoints += network.connect(cid, ns.path, [Attachment("bench", aliases=[f"svc{i}"])])
            joins.append(time.perf_counter() - t)
        print(f"join (veth, address, route, name registered): median {statistics.median(joins) * 1000:.1f} ms"
              f"  (target < 30 ms, {args.runs} runs)")

        first, last = made[0], made[-1]
        out = first.run(sys.executable, "-c", LOOKUP_CLIENT, endpoints[0].gateway, f"svc{args.runs - 1}", "200")
        print(f"DNS lookup from inside: median {float(out.stdout):.2f} ms  (target < 5 ms, 200 queries)")

        ep = endpoints[-1]
        last.spawn(sys.executable, "-c", SINK)
        wait_tcp(ep.ip, 9000)
        port = network.publish(ep.container_id, ep.ip, ["127.0.0.1::9000"])[0].host_port
        direct = statistics.median(send(ep.ip, 9000) for _ in range(3))
        proxied = statistics.median(send("127.0.0.1", port) for _ in range(3))
        print(f"throughput direct to the namespace: {direct:.0f} MiB/s")
        print(f"throughput via published port:      {proxied:.0f} MiB/s  (ratio {proxied / direct:.2f})")
        network.unpublish(ep.container_id)
        for e in endpoints:
            network.disconnect(e.container_id)
        tools = [t for t in ("docker", "podman") if shutil.which(t)]
        if tools:
            print(f"({', '.join(tools)} installed but not compared: no registry to pull an image from)")
    finally:
        for ns in made:
            ns.cleanup()
        for net in network.list_networks():
            network.remove_network(net["id"], force=True)
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
