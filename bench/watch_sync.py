"""Edit-to-visible latency of `stackup watch`: a file written on the host until the
container sees its new content (target: under 200 ms for one file), and a one-file
change of a `rebuild` rule until the recreated container serves it (target: the
builder's cached rebuild plus the recreate).

    sudo .venv/bin/python bench/watch_sync.py [--runs 20]

Visibility is read through /proc/<pid>/root of the container's PID 1, i.e. as the
container sees its files, polled every millisecond.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackup.testing.stack import BUSYBOX_REF, StackupCLI  # noqa: E402

COMPOSE = """\
name: benchwatch
services:
  app:
    build: .
    init: true
    command: ["sleep", "100000"]
    develop:
      watch:
        - {path: ./src, target: /src, action: sync}
        - {path: ./version.txt, action: rebuild}
"""


def pid_of(cli: StackupCLI) -> int:
    """PID 1 of the service's running container, from the engine's state file."""
    for state in cli.root.glob("containers/*/state.json"):
        try:
            record = json.loads(state.read_text())
        except (OSError, ValueError):
            continue
        if record.get("name") == "benchwatch-app-1" and record.get("pid"):
            return int(record["pid"])
    raise KeyError("benchwatch-app-1 is not running")


def visible(path: Path, text: str, timeout: float = 30) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if path.read_text() == text:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.001)
    raise TimeoutError(f"{path} never showed {text!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rebuilds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    project = work / "project"
    (project / "src").mkdir(parents=True)
    (project / "compose.yaml").write_text(COMPOSE)
    (project / "Dockerfile").write_text(f"FROM {BUSYBOX_REF}\nCOPY version.txt /version.txt\n")
    (project / "version.txt").write_text("0\n")
    (project / "src" / "main.txt").write_text("0\n")
    cli = StackupCLI(work / "root", project)
    cli.import_busybox(work)
    cli("up", "-d")
    watcher = subprocess.Popen([*cli_command(), "watch", "--no-up"], cwd=project, env=cli.env,
                               stderr=subprocess.PIPE, text=True)
    try:
        for line in watcher.stderr:   # type: ignore[union-attr]
            if "Watch enabled" in line:
                break
        time.sleep(0.5)  # the watches are armed just after the message
        syncs = []
        for run in range(args.runs):
            text = f"edit {run}\n"
            start = time.monotonic()
            (project / "src" / "main.txt").write_text(text)
            visible(Path(f"/proc/{pid_of_cached(cli)}/root/src/main.txt"), text)
            syncs.append(time.monotonic() - start)
            time.sleep(0.1)
        rebuilds = []
        for run in range(1, args.rebuilds + 1):
            start = time.monotonic()
            (project / "version.txt").write_text(f"{run}\n")
            deadline = start + 120
            while True:
                try:
                    if Path(f"/proc/{pid_of(cli)}/root/version.txt").read_text() == f"{run}\n":
                        break
                except (OSError, ValueError, KeyError, AssertionError):
                    pass
                assert time.monotonic() < deadline, "the rebuild never showed"
                time.sleep(0.01)
            rebuilds.append(time.monotonic() - start)
        print(f"sync, one file: median {statistics.median(syncs) * 1000:.0f} ms, "
              f"max {max(syncs) * 1000:.0f} ms over {len(syncs)} edits (target < 200 ms)")
        print(f"rebuild, one-file change: median {statistics.median(rebuilds) * 1000:.0f} ms "
              f"over {len(rebuilds)} rebuilds")
    finally:
        watcher.terminate()
        watcher.wait()
        cli.cleanup()


_pids: dict[int, int] = {}


def pid_of_cached(cli: StackupCLI) -> int:
    if id(cli) not in _pids:
        _pids[id(cli)] = pid_of(cli)
    return _pids[id(cli)]


def cli_command() -> list[str]:
    from stackup.testing.stack import stackup_command

    return stackup_command()


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("needs root")
    main()
