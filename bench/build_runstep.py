"""Benchmark: the overhead of one RUN step (create, start, wait, take the upper, remove).

    sudo .venv/bin/python bench/build_runstep.py [--runs 5]

Runs `true` on a busybox image as a RUN step on networks none, host and default (the
build's network made once beforehand, as a build does), and prints the median per
network, and what making and removing the build network costs once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ROOT = tempfile.mkdtemp(prefix="stackup-bench-")
os.environ["STACKUP_ROOT"] = ROOT

from _timing import timed  # noqa: E402

from stackup.engine.build.model import RunStep  # noqa: E402
from stackup.engine.build.runstep import BuildNetwork, run_step  # noqa: E402
from stackup.engine.images.store import ImageStore  # noqa: E402
from stackup.testing.images import busybox_image  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    layers = busybox_image(ImageStore()).layer_dirs()
    try:
        with BuildNetwork() as net:
            made = timed(net.name)
            for mode in ("none", "host", "default"):
                step = RunStep(layers=layers, argv=["true"], env=[], network=mode)

                def once(step: RunStep = step) -> None:
                    result = run_step(step, lambda line: None, network=net)
                    shutil.rmtree(result.upper)

                once()  # warm: the seccomp filter compiled, modules loaded
                times = [timed(once) for _ in range(args.runs)]
                print(f"RUN true, network {mode:8s} median of {args.runs}: "
                      f"{statistics.median(times) * 1000:6.1f} ms")
            removed = timed(net.close)
        print(f"build network: made in {made * 1000:.1f} ms, removed in {removed * 1000:.1f} ms")
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
