#!/usr/bin/env python3
"""What the CLI process of `stackup up -d` and `down` spends importing modules.

Brings a 1-service stack up and down N times (default 6) under `python -X importtime`
in its own STACKUP_ROOT, and prints for each command the sum over modules of each
module's MINIMUM self time across the runs (the machine is shared and noisy; per-module
minima are steadier), the median and minimum of each run's total, the modules costing
most, and optionally who imports a module. Garbage collections during the imports
count towards whichever module is loading at the time, so single modules jump by
~1 ms between otherwise equal runs; compare sums.
Forked children (the link worker that imports pyroute2, see
stackup/engine/network/linkworker.py) write their import times elsewhere, so only the
command's own process is counted. With --wall N it then times N interleaved
`up -d` / `down` pairs without -X importtime and prints the medians of their wall
time and of the CPU time of the command's own process (steadier than wall time when
others load the machine).

`--compare PYTHON` runs a second install too (another venv's python, e.g. one with
an editable install of main), interleaved run by run with this one, so both see the
same load.

Run (as root): .venv/bin/python bench/cli_imports.py [--runs N] [--top K] [--wall N]
               [--who MODULE] [--compare OTHER/.venv/bin/python]
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

from _stacks import single_stack  # noqa: E402

IMAGE = "docker.io/library/busybox:latest"
COMMANDS = {"up": ["up", "-d"], "down": ["down", "-v", "-t", "1"]}

# Runs the console script's main() with forked children's stderr sent to /dev/null,
# so that their -X importtime lines do not mix with the command's own, and prints the
# CPU time of the command's own process at exit (children not counted).
WRAPPER = ("import atexit, os, resource, sys\n"
           "os.register_at_fork(after_in_child=lambda: os.dup2(os.open(os.devnull, os.O_WRONLY), 2))\n"
           "me = os.getpid()\n"
           "def cpu():\n"
           "    if os.getpid() == me:\n"
           "        r = resource.getrusage(resource.RUSAGE_SELF)\n"
           "        print(f'bench-cpu-ms {(r.ru_utime + r.ru_stime) * 1000:.1f}', file=sys.stderr)\n"
           "atexit.register(cpu)\n"
           "from stackup.cli.main import main\n"
           "sys.exit(main(sys.argv[1:]))\n")


def parse_importtime(text: str) -> list[tuple[int, int, str]]:
    """(self us, depth, module) per `import time:` line, in the order printed."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_part, _cumulative, name = line.split(":", 1)[1].split("|", 2)
        self_us = int(self_part)
        name = name[1:]  # one space after the bar, then two per level of nesting
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((self_us, depth, name.strip()))
    return rows


def importers(rows: list[tuple[int, int, str]], module: str) -> list[str]:
    """The chain of modules that imported `module` (outermost first). Lines are printed
    after a module's own imports, so the importer is the next line with a smaller depth."""
    for i, (_, depth, name) in enumerate(rows):
        if name != module:
            continue
        chain, want = [], depth
        for _, d, n in rows[i + 1:]:
            if d < want:
                chain.append(n)
                want = d
        return list(reversed(chain))
    return []


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--wall", type=int, default=0, help="interleaved wall-clock runs")
    parser.add_argument("--who", action="append", default=[], help="print who imports MODULE")
    parser.add_argument("--compare", metavar="PYTHON", help="another install's python, run interleaved")
    args = parser.parse_args()
    pythons = [sys.executable] + ([args.compare] if args.compare else [])

    # Bytecode cache on, as an installed package has it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="imports-bench-") as work:
        work_dir = Path(work)
        env["STACKUP_ROOT"] = str(work_dir / "root")
        (work_dir / "stack").mkdir()
        (work_dir / "stack" / "compose.yaml").write_text(yaml.safe_dump(single_stack(IMAGE)))
        subprocess.run([sys.executable, "-c",
                        "from stackup.engine.images.store import ImageStore\n"
                        "from stackup.testing.images import busybox_image\n"
                        f"busybox_image(ImageStore(), {IMAGE!r})"], env=env, check=True)
        cwd = work_dir / "stack"
        try:
            for python in pythons:
                stackup = [str(Path(python).with_name("stackup")), "--progress", "quiet"]
                run(stackup + COMMANDS["up"], env, cwd)   # warm the caches, write the bytecode
                run(stackup + COMMANDS["down"], env, cwd)
            minima: dict[tuple[str, str], dict[str, int]] = {}
            last: dict[tuple[str, str], list] = {}
            totals: dict[tuple[str, str], list[float]] = {}  # each run's sum of self times
            for _ in range(args.runs):
                for python in pythons:
                    base = [python, "-X", "importtime", "-c", WRAPPER, "--progress", "quiet"]
                    for name, words in COMMANDS.items():  # up, then the down that takes it away
                        rows = parse_importtime(run(base + words, env, cwd).stderr)
                        last[python, name] = rows
                        totals.setdefault((python, name), []).append(sum(us for us, _, _ in rows) / 1000)
                        table = minima.setdefault((python, name), {})
                        for self_us, _, module in rows:
                            best = table.get(module)
                            table[module] = self_us if best is None else min(best, self_us)
            for (python, name), table in minima.items():
                total = sum(table.values()) / 1000
                label = f" [{python}]" if len(pythons) > 1 else ""
                runs = totals[python, name]
                print(f"{' '.join(COMMANDS[name])}{label}: {len(table)} modules, "
                      f"sum of minimum self times {total:.1f} ms; per run: median {statistics.median(runs):.1f}, "
                      f"min {min(runs):.1f} ms")
                for module, us in sorted(table.items(), key=lambda kv: -kv[1])[:args.top]:
                    print(f"  {us / 1000:7.2f} ms  {module}")
                for module in args.who:
                    chain = importers(last[python, name], module)
                    print(f"  who imports {module}: {' -> '.join(chain) or '(not imported)'}")
            if args.wall:
                times: dict[tuple[str, str], list[float]] = {}
                cpu: dict[tuple[str, str], list[float]] = {}
                for _ in range(args.wall):
                    for python in pythons:
                        command = [python, "-c", WRAPPER, "--progress", "quiet"]
                        for name, words in COMMANDS.items():
                            start = time.perf_counter()
                            proc = run(command + words, env, cwd)
                            times.setdefault((python, name), []).append(time.perf_counter() - start)
                            cpu.setdefault((python, name), []).append(
                                float(proc.stderr.rsplit("bench-cpu-ms ", 1)[1].split()[0]))
                for (python, name), values in times.items():
                    label = f" [{python}]" if len(pythons) > 1 else ""
                    own = cpu[python, name]
                    print(f"{' '.join(COMMANDS[name])}{label}: wall median {statistics.median(values) * 1000:.0f} ms "
                          f"(min {min(values) * 1000:.0f}), CPU of the command's process median "
                          f"{statistics.median(own):.0f} ms (min {min(own):.0f}), over {len(values)}")
        finally:  # never leave the stack up
            subprocess.run([str(Path(sys.executable).with_name("stackup")), *COMMANDS["down"]],
                           env=env, cwd=cwd, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
