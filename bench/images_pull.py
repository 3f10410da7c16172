"""Pulling a five-layer image from a loopback registry: stackup against `skopeo copy` to a directory.

    .venv/bin/python bench/images_pull.py [--runs 5] [--layer-mb 20]

A real docker-registry on 127.0.0.1 serves a five-layer gzip image that skopeo
pushed. Each run pulls into a fresh store / directory. stackup's time includes
what skopeo's does not: unpacking every layer (with its diff_id check). Prints
medians and the ratio (target: stackup no slower than skopeo) of the library call,
and, for reference, of `stackup image pull` as a command (Python's start and imports
included, as skopeo's whole process is).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackup.engine.images.pull import pull  # noqa: E402
from stackup.engine.images.store import ImageStore  # noqa: E402
from stackup.testing.layers import TarBuilder  # noqa: E402
from stackup.testing.oci import OciLayout  # noqa: E402
from stackup.testing.registry import LocalRegistry  # noqa: E402

from _timing import timed  # noqa: E402


def layer(n: int, size_mb: int) -> bytes:
    rng = random.Random(n)
    builder = TarBuilder()
    written, i = 0, 0
    while written < size_mb * 1_000_000:
        size = rng.randint(1_000, 400_000)
        data = rng.randbytes(size) if i % 2 else (b"text line %d\n" % i) * (size // 12 + 1)
        builder.file(f"layer{n}/dir{i % 20}/f{i}", data[:size])
        written += size
        i += 1
    return builder.bytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layer-mb", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stackup-bench-pull-", dir="/var/tmp"))
    os.environ["DOCKER_CONFIG"] = str(work / "no-docker-config")
    try:
        with LocalRegistry(work / "registry") as reg:
            layout = OciLayout(work / "oci")
            layout.image([layer(n, args.layer_mb) for n in range(5)], tag="t")
            subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout.root}:t",
                            f"docker://{reg.host}/bench/five:1"], check=True)
            ref = f"{reg.host}/bench/five:1"
            ours, theirs, command = [], [], []
            cli_env = dict(os.environ, STACKUP_ROOT=str(work / "cli-root"))
            for run in range(args.runs):
                store = ImageStore(work / f"store{run}")
                ours.append(timed(lambda: pull(store, ref)))
                shutil.rmtree(store.root)
                target = work / f"dir{run}"
                theirs.append(timed(lambda: subprocess.run(
                    ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"dir:{target}"],
                    check=True)))
                shutil.rmtree(target)
            for _ in range(args.runs):  # apart, not to disturb the comparison above
                command.append(timed(lambda: subprocess.run(
                    [sys.executable, "-m", "stackup", "--progress", "quiet", "image", "pull", ref],
                    env=cli_env, check=True, stdout=subprocess.DEVNULL)))
                shutil.rmtree(work / "cli-root")
        mine, skopeo, cli = statistics.median(ours), statistics.median(theirs), statistics.median(command)
        print(f"image: 5 layers x {args.layer_mb} MB (gzip), runs: {args.runs}")
        print(f"stackup pull (download + verify + unpack): median {mine:.3f}s  "
              f"(runs {', '.join(f'{t:.2f}' for t in ours)})")
        print(f"skopeo copy to dir (download + verify):    median {skopeo:.3f}s  "
              f"(runs {', '.join(f'{t:.2f}' for t in theirs)})")
        print(f"stackup image pull (the command):          median {cli:.3f}s  "
              f"(runs {', '.join(f'{t:.2f}' for t in command)})")
        print(f"ratio stackup/skopeo: {mine / skopeo:.2f}x (target <= 1.0x); "
              f"the command: {cli / skopeo:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("run as root: layers keep owners and device nodes")
    main()
