"""Several processes joining one network at the same time get distinct addresses."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stackup.engine import network

pytestmark = pytest.mark.root

JOINER = """
import sys
from pathlib import Path
from stackup.engine import network
for path in sys.argv[1:]:
    cid = Path(path).name.replace("stktest-", "") * 8
    print(network.connect(cid, Path(path), [network.Attachment("crowd")])[0].ip)
"""


def test_parallel_joins_never_share_an_address(stackup_root, netns):
    network.create_network("crowd")
    groups = [[netns() for _ in range(3)] for _ in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", JOINER, *[str(ns.path) for ns in group]],
                              stdout=subprocess.PIPE, text=True, env=os.environ.copy())
             for group in groups]
    ips = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        ips += out.split()
    assert len(ips) == 9 and len(set(ips)) == 9
    recorded = network.get_network("crowd")["endpoints"]
    assert sorted(ep["ip"] for ep in recorded.values()) == sorted(ips)
    for ns, group_ip in zip([ns for g in groups for ns in g], ips):
        assert group_ip in ns.run("ip", "-4", "addr", "show", "eth0").stdout
