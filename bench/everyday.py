#!/usr/bin/env python3
"""The commands people type all day, stackup next to docker compose (and docker for the
engine commands), on the same running 10-service chain (run as root).

Each tool brings up its own copy of the chain (bench/_stacks.py), then every command
below runs N times per tool, interleaved (one run of each tool per round) so that drift
on a shared machine hits all alike. Printed: the median wall time of each, the median
CPU time (user + sys of the command's process tree, less sensitive to a loaded machine),
and stackup / peer. Also the floor: an empty interpreter with and without `site`.

Usage: .venv/bin/python bench/everyday.py [--runs N] [--only stackup,docker]
       (--json FILE writes the figures for bench/table.py)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BUSYBOX, busybox_archive, compose_tools, median, ready_peers, timed  # noqa: E402
from _stacks import chain_stack  # noqa: E402

from stackup.testing.stack import free_port, stackup_command  # noqa: E402

# (label, compose-level argv, or None: an engine command, given per tool below)
COMPOSE_COMMANDS = [
    ["ps"], ["ps", "--format", "json"], ["logs", "svc1"], ["exec", "-T", "svc1", "true"],
    ["port", "svc9", "80"], ["config", "-q"], ["images"], ["ls"], ["top"],
]
ENGINE_COMMANDS = {"container ps": (["container", "ps"], ["ps"]),
                   "image ls": (["image", "ls"], ["image", "ls"])}


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one run; a failure stops the bench with its stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


def floor(runs: int) -> dict[str, float]:
    """The interpreter alone: what no change to stackup's code can go under."""
    python = sys.executable
    env = dict(os.environ)
    return {label: median([run_once(argv, env, Path("/"))[0] for _ in range(runs)])
            for label, argv in (("python -S -c pass", [python, "-S", "-c", "pass"]),
                                ("python -c pass", [python, "-c", "pass"]))}


def commands_for(label: str, base: list[str], engine: list[str] | None) -> dict[str, list[str]]:
    """figure -> argv for one tool (`engine`: its engine CLI, for container ps / image ls)."""
    found = {" ".join(c): base + c for c in COMPOSE_COMMANDS}
    for name, (ours, docker) in ENGINE_COMMANDS.items():
        if label == "stackup":
            found[name] = base[:-2] + ours  # without -f FILE
        elif engine is not None:
            found[name] = engine + docker
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--only", default="stackup,docker")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/everyday.py needs root", file=sys.stderr)
        return 2
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="stackup-bench-everyday-") as tmp:
        work = Path(tmp)
        archive = busybox_archive(work)
        stackup_env = dict(os.environ, STACKUP_ROOT=str(work / "stackup-root"))
        stackup_env.pop("COMPOSE_PROJECT_NAME", None)
        stackup_env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: with bytecode
        timed(stackup_command() + ["image", "load", "-i", str(archive)], stackup_env)
        names = tuple(n for n in ("docker", "podman") if n in only)
        with ready_peers(work, names=names, image_archive=archive) as found:
            tools: dict[str, tuple[list[str], dict[str, str], list[str] | None]] = {}
            if "stackup" in only:
                tools["stackup"] = (stackup_command() + ["--progress", "quiet"], stackup_env, None)
            skipped = {}
            for label, tool in compose_tools(found).items():
                if isinstance(tool, str):
                    skipped[label] = tool
                    continue
                peer = found["docker" if label.startswith("docker") else "podman"]
                tools[label] = (tool[0], tool[1], list(peer.argv))
            ups = []
            try:
                for label, (command, env, _) in tools.items():
                    folder = stack_folder(work, label)
                    base = command + ["-f", str(folder / "compose.yaml")]
                    timed(base + ["up", "-d"], env, cwd=folder, timeout=300)
                    ups.append((base, env, folder))
                results = measure(tools, work, args.runs)
            finally:
                for base, env, folder in ups:
                    subprocess.run(base + ["down", "-v", "-t", "0"], env=env, cwd=folder,
                                   capture_output=True)
    figures = {"floor": floor(args.runs), "commands": results, "skipped": skipped,
               "runs": args.runs, "cores": os.cpu_count()}
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


def stack_folder(work: Path, label: str) -> Path:
    """The tool's own copy of the chain (its own published port: the engines differ)."""
    folder = work / label.replace(" ", "-")
    folder.mkdir(exist_ok=True)
    (folder / "compose.yaml").write_text(yaml.safe_dump(chain_stack(BUSYBOX, free_port())))
    return folder


def measure(tools: dict, work: Path, runs: int) -> dict[str, dict[str, dict[str, float]]]:
    """figure -> tool -> {"wall", "cpu"} medians, the tools interleaved in each round."""
    folders = {label: work / label.replace(" ", "-") for label in tools}
    plans = {label: commands_for(label, command + ["-f", str(folders[label] / "compose.yaml")], engine)
             for label, (command, _, engine) in tools.items()}
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for _ in range(runs):
        for figure in plans[next(iter(plans))]:
            for label, plan in plans.items():
                if figure in plan:
                    sample = run_once(plan[figure], tools[label][1], folders[label])
                    samples.setdefault(figure, {}).setdefault(label, []).append(sample)
    return {figure: {label: {"wall": median([w for w, _ in s]), "cpu": median([c for _, c in s])}
                     for label, s in by_tool.items()}
            for figure, by_tool in samples.items()}


def print_table(figures: dict) -> None:
    print(f"medians of {figures['runs']} interleaved runs, seconds; {figures['cores']} cores")
    for label, value in figures["floor"].items():
        print(f"floor: {label:<22} {value:.3f}")
    tools = sorted({t for by in figures["commands"].values() for t in by}, key=lambda t: t != "stackup")
    print(f"{'command':<22}" + "".join(f"{t + ' wall':>22}{'cpu':>7}" for t in tools) + "   stackup/peer")
    for figure, by_tool in figures["commands"].items():
        row = f"{figure:<22}"
        for tool in tools:
            m = by_tool.get(tool)
            row += f"{m['wall']:22.3f}{m['cpu']:7.3f}" if m else f"{'-':>22}{'-':>7}"
        ours = by_tool.get("stackup")
        ratios = [f"{ours['wall'] / m['wall']:.2f}" for t, m in by_tool.items() if t != "stackup" and ours]
        print(row + "   " + " ".join(ratios))
    for label, why in figures["skipped"].items():
        print(f"{label}: skipped ({why})")


if __name__ == "__main__":
    sys.exit(main())
