#!/usr/bin/env python3
"""stackup next to docker and podman on the same machine and the same image (run as root).

1. `run --rm --network none busybox true`, end to end as a user types it: median of N runs
   for `stackup container run`, `docker run` (a private dockerd) and `podman run`, with
   the ratios stackup / peer. Runs are interleaved (one of each per round) so that drift
   on the shared machine hits all three alike.
2. The per-container process with 10 idle containers each (`sleep`): stackup's shim,
   docker's containerd-shim-runc-v2, podman's conmon; median RSS and PSS (smaps_rollup).

All three load the same archive, written by `stackup image save` from a busybox image
made on this machine. A peer that is not installed or cannot start is skipped with the
reason.

Usage: .venv/bin/python bench/peers_run.py [--runs N] [--idle 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BUSYBOX, busybox_archive, median, memory_kb, ready_peers, shim_pids, timed  # noqa: E402

from stackup.testing.stack import stackup_command  # noqa: E402

RUN = ["run", "--rm", "--network", "none", BUSYBOX, "true"]


class Stackup:
    """stackup through its CLI, in a STACKUP_ROOT of its own, shaped like a Peer."""

    name = "stackup"

    def __init__(self, root: Path, archive: Path):
        self.env = dict(os.environ, STACKUP_ROOT=str(root))
        timed(self.command("image", "load", "-i", str(archive)), self.env)

    def command(self, *args: str) -> list[str]:
        if args and args[0] in ("run", "ps", "rm"):
            args = ("container", *args)
        return stackup_command() + list(args)

    def shim_pids(self, ids: list[str]) -> list[int]:
        os.environ["STACKUP_ROOT"] = self.env["STACKUP_ROOT"]
        from stackup.engine.runtime.container import Runtime

        rt = Runtime()
        return [rt.get(cid).shim_pid for cid in ids]


def start_idle(tool, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        proc = subprocess.run(tool.command("run", "-d", "--network", "none", BUSYBOX, "sleep", "1000"),
                              env=tool.env, capture_output=True, text=True, check=True)
        ids.append(proc.stdout.strip().splitlines()[-1])
    return ids


def remove(tool, ids: list[str]) -> None:
    if ids:
        subprocess.run(tool.command("rm", "-f", *ids), env=tool.env, capture_output=True)


def memory(tool, count: int) -> tuple[float, float, int]:
    """Median RSS and PSS (MB) of the per-container process, with `count` idle containers."""
    ids = start_idle(tool, count)
    try:
        time.sleep(2.0)  # let them settle to idle
        pids = tool.shim_pids(ids) if isinstance(tool, Stackup) else shim_pids(tool, ids)
        mem = [memory_kb(pid) for pid in pids]
        return (median([r for r, _ in mem]) / 1024, median([p for _, p in mem]) / 1024, len(pids))
    finally:
        remove(tool, ids)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--idle", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/peers_run.py needs root", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="stackup-bench-peers-run-") as tmp:
        work = Path(tmp)
        archive = busybox_archive(work)
        ours = Stackup(work / "stackup-root", archive)
        with ready_peers(work, image_archive=archive) as found:
            tools = [ours] + [p for p in found.values() if not isinstance(p, str)]
            samples: dict[str, list[float]] = {t.name: [] for t in tools}
            for tool in tools:  # warm caches (bytecode, page cache, the peers' first run)
                timed(tool.command(*RUN), tool.env)
            for _ in range(args.runs):
                for tool in tools:
                    samples[tool.name] += timed(tool.command(*RUN), tool.env)
            mem = {tool.name: memory(tool, args.idle) for tool in tools}
            print(f"run --rm --network none busybox true: median of {args.runs} runs")
            base = median(samples["stackup"])
            for tool in tools:
                m = median(samples[tool.name])
                ratio = "" if tool is ours else f"   stackup / {tool.name} = {base / m:.2f}"
                print(f"  {tool.name:<8} {m * 1000:8.1f} ms{ratio}")
            print(f"per-container process with {args.idle} idle containers (median per process)")
            label = {"stackup": "stackup shim", "docker": "containerd-shim-runc-v2", "podman": "conmon"}
            for tool in tools:
                rss, pss, n = mem[tool.name]
                print(f"  {tool.name:<8} {label[tool.name]:<24} RSS {rss:6.1f} MB  PSS {pss:6.2f} MB"
                      f"  ({n} processes)")
            for name, peer in found.items():
                if isinstance(peer, str):
                    print(f"  {name}: skipped ({peer})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
