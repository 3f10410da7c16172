"""Medians of `stackup --help` and `stackup config` on a generated 50-service file.

Targets on the project's machines: help < 150 ms, config < 400 ms.
Run: .venv/bin/python bench/spec_config.py [runs]
"""

from __future__ import annotations

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


def median_ms(cmd: list[str], cwd: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    exe = str(Path(sys.executable).with_name("stackup"))
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "compose.yaml").write_text(stack())
        help_ms = median_ms([exe, "--help"], tmp, runs)
        config_ms = median_ms([exe, "config"], tmp, runs)
        print(f"stackup --help              median {help_ms:7.1f} ms (target < 150)")
        print(f"stackup config (50 svcs)    median {config_ms:7.1f} ms (target < 400)")
        docker = shutil.which("docker")
        if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
            ref = median_ms([docker, "compose", "config"], tmp, runs)
            print(f"docker compose config       median {ref:7.1f} ms (ratio {config_ms / ref:.2f})")


if __name__ == "__main__":
    main()
