#!/usr/bin/env python3
"""CLI start-up time: medians of `stackup --help` and `stackup graph` on a generated
50-service stack, plus the in-process cost of building and drawing that graph.

Run: .venv/bin/python bench/cli_startup.py [--runs N]
Targets (issue 2): `stackup --help` under 150 ms. `stackup graph` is skipped with the
reason when the stack file loader is not installed yet.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generated_stack(count: int = 50) -> dict:
    """A stack of `count` services in layers: each depends on up to three services of
    earlier layers, with mixed conditions, on one or two of three networks."""
    conditions = ["service_started", "service_healthy", "service_completed_successfully"]
    services = {}
    for i in range(count):
        deps = {f"svc{j:02d}": {"condition": conditions[(i + j) % 3], "required": True}
                for j in sorted({i // 2, i // 3, i // 5}) if j < i}
        service = {"image": f"registry.example/app{i % 7}:1.{i}",
                   "networks": {"front": None} if i % 3 == 0 else {"back": None, "data": None}}
        if deps:
            service["depends_on"] = deps
        services[f"svc{i:02d}"] = service
    networks = {name: {"name": f"bench_{name}"} for name in ("front", "back", "data")}
    return {"name": "bench", "networks": networks, "services": services}


def stackup_command() -> list[str]:
    local = Path(sys.executable).with_name("stackup")
    if local.exists():
        return [str(local)]
    found = shutil.which("stackup")
    return [found] if found else [sys.executable, "-m", "stackup"]


def median_ms(argv: list[str], runs: int, cwd: Path | None = None) -> tuple[float | None, str]:
    """The median wall time of `argv` in ms, or None and the reason when it fails."""
    first = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if first.returncode != 0:
        reason = (first.stderr.strip().splitlines() or [f"exit code {first.returncode}"])[-1]
        return None, reason
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), ""


def in_process_ms(project: dict, runs: int) -> dict[str, float]:
    """Build the graph and draw it in each format, in this process (imports excluded)."""
    from stackup.cli import graph_render
    from stackup.graph import ServiceGraph

    results = {}
    for name, renderer in [("build graph", None), *graph_render.RENDERERS.items()]:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            graph = ServiceGraph.from_project_dict(project)
            if renderer is not None:
                renderer(project, graph)
            times.append((time.perf_counter() - start) * 1000)
        results[name if renderer is None else f"build + {name}"] = statistics.median(times)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    stackup = stackup_command()
    project = generated_stack()

    print(f"stackup: {' '.join(stackup)}  (median of {args.runs} runs)")
    baseline, _ = median_ms([sys.executable, "-c", "pass"], args.runs)
    print(f"  {'python -c pass (interpreter floor)':<48} {baseline:8.1f} ms")
    help_ms, reason = median_ms([*stackup, "--help"], args.runs)
    print(f"  {'stackup --help':<48} " + (f"{help_ms:8.1f} ms  (target < 150 ms)" if help_ms is not None
                                          else f"skipped: {reason}"))

    graph_help, reason = median_ms([*stackup, "graph", "--help"], args.runs)
    print(f"  {'stackup graph --help (typer + command import)':<48} "
          + (f"{graph_help:8.1f} ms" if graph_help is not None else f"skipped: {reason}"))

    import yaml

    with tempfile.TemporaryDirectory(prefix="stackup-bench-") as tmp:
        Path(tmp, "compose.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        for fmt in ("text", "dot"):
            label = f"stackup graph --format {fmt} (50 services)"
            ms, reason = median_ms([*stackup, "graph", "--format", fmt], args.runs, cwd=Path(tmp))
            print(f"  {label:<48} " + (f"{ms:8.1f} ms" if ms is not None else f"skipped: {reason}"))

    for name, ms in in_process_ms(project, args.runs).items():
        print(f"  {'in process: ' + name + ' (50 services)':<48} {ms:8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
