"""Medians of `stackup --help` and `stackup config` on a generated 50-service file.

Targets on the project's machines: help < 150 ms, config < 400 ms.
Run: .venv/bin/python bench/spec_config.py [runs]
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def stack(services: int = 50) -> str:
    lines = ["name: bench", "services:"]
    for i in range(services):
        lines += [f"  svc{i}:", "    image: busybox:latest", f"    command: sleep {i}",
                  f"    ports: ['{10000 + i}:80']", "    environment:", f"      INDEX: '{i}'",
                  "    volumes: ['data:/data', './conf:/conf:ro']",
                  "    healthcheck: {test: 'true', interval: 5s}"]
        if i:
            lines += ["    depends_on:", f"      svc{i - 1}: {{condition: service_started}}"]
    lines += ["volumes:", "  data: {}"]
    return "\n".join(lines) + "\n"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_ms(cmd: list[str], cwd: str, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user+sys; steadier on a busy machine), in ms."""
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), _children_cpu()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((_children_cpu() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    exe = str(Path(sys.executable).with_name("stackup"))
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "compose.yaml").write_text(stack())
        help_ms, help_cpu = median_ms([exe, "--help"], tmp, runs)
        config_ms, config_cpu = median_ms([exe, "config"], tmp, runs)
        print(f"stackup --help              median {help_ms:7.1f} ms wall, {help_cpu:7.1f} ms cpu (target < 150)")
        print(f"stackup config (50 svcs)    median {config_ms:7.1f} ms wall, {config_cpu:7.1f} ms cpu (target < 400)")
        docker = shutil.which("docker")
        if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
            ref, _ = median_ms([docker, "compose", "config"], tmp, runs)
            print(f"docker compose config       median {ref:7.1f} ms wall (ratio {config_ms / ref:.2f})")


if __name__ == "__main__":
    main()
