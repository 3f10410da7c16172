"""Unpacking a 100 MB layer of mixed files: stackup's safe unpacker against `tar -xf`.

    .venv/bin/python bench/images_unpack.py [--runs 5] [--size-mb 100] [--gzip]

Both unpack the same uncompressed (or, with --gzip, gzip-compressed) tar into an
empty directory on the same filesystem, as root (owners kept). stackup's time
includes what tar does not do: the diff_id hash, safety checks, flushing the layer to
disk (syncfs) and the atomic rename. Prints the median of each and their ratio (target:
stackup within 1.3x of tar), and for reference `tar -xf` followed by `sync -f` (the
same durability as stackup's).

stackup's layer store asks ext4 to give each layer its own block group (diskio.
mark_hierarchy_top), which spares it the cost of creating files where many were just
deleted (ext4 without a journal scans past recently deleted inodes on every create).
`tar -xf` into a directory with the same hint is printed too: the like-for-like ratio.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackup.engine.images import digest as dg  # noqa: E402
from stackup.engine.images.diskio import mark_hierarchy_top  # noqa: E402
from stackup.engine.images.layers import LayerStore  # noqa: E402

from _timing import timed  # noqa: E402


def make_layer(path: Path, size_mb: int, seed: int = 7) -> int:
    """A mixed tree: many small files, some medium, a few large; dirs, symlinks, hardlinks."""
    rng = random.Random(seed)
    budget = size_mb * 1_000_000
    written = 0
    n = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uid, info.gid = len(data), mode, 1_700_000_000, 0, 0
            tar.addfile(info, __import__("io").BytesIO(data))

        for d in range(60):
            info = tarfile.TarInfo(f"usr/lib/pkg{d}")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tar.addfile(info)
        while written < budget:
            kind = rng.random()
            size = rng.randint(100, 8_000) if kind < 0.85 else rng.randint(50_000, 500_000) if kind < 0.98 \
                else rng.randint(2_000_000, 8_000_000)
            size = min(size, budget - written) or 1
            # Half text-like (compressible), half random: a realistic mix for the gzip variant.
            text = (b"lorem ipsum dolor sit amet " * (size // 27 + 1))[:size]
            data = rng.randbytes(size) if rng.random() < 0.5 else text
            name = f"usr/lib/pkg{n % 60}/file{n}.so"
            add(name, data, 0o755 if n % 7 == 0 else 0o644)
            if n % 50 == 0:
                link = tarfile.TarInfo(f"usr/lib/pkg{n % 60}/link{n}")
                link.type, link.linkname, link.mtime = tarfile.SYMTYPE, f"file{n}.so", 1_700_000_000
                tar.addfile(link)
            if n % 97 == 0:
                hard = tarfile.TarInfo(f"usr/lib/pkg{n % 60}/hard{n}")
                hard.type, hard.linkname, hard.mtime = tarfile.LNKTYPE, name, 1_700_000_000
                tar.addfile(hard)
            written += size
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stackup-bench-unpack-", dir="/var/tmp"))
    try:
        layer = work / "layer.tar"
        files = make_layer(layer, args.size_mb)
        diff_id = blob_digest = dg.of_bytes(layer.read_bytes())
        if args.gzip:
            gz = work / "layer.tar.gz"
            with open(layer, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst)
            layer = gz
            blob_digest = dg.of_bytes(gz.read_bytes())
        print(f"layer: {layer.stat().st_size / 1e6:.0f} MB on disk, {files} files, runs: {args.runs}")
        ours, tars, synced, hinted, hinted_synced = [], [], [], [], []
        hint_parent = work / "hinted"
        hint_parent.mkdir()
        mark_hierarchy_top(hint_parent)
        for run in range(args.runs):
            store = LayerStore(work / f"layers{run}")
            ours.append(timed(lambda: store.unpack(layer, diff_id, diff_id, None, blob_digest=blob_digest)))
            shutil.rmtree(work / f"layers{run}")
            os.sync()
            out = work / f"tar{run}"
            out.mkdir()
            cmd = ["tar", "-xf", str(layer), "-C", str(out)] + (["-z"] if args.gzip else [])
            tars.append(timed(lambda: subprocess.run(cmd, check=True)))
            shutil.rmtree(out)
            os.sync()  # each run starts with nothing dirty
            out.mkdir()
            synced.append(timed(lambda: (subprocess.run(cmd, check=True),
                                         subprocess.run(["sync", "-f", str(out)], check=True))))
            shutil.rmtree(out)
            os.sync()
            out = hint_parent / f"tar{run}"
            out.mkdir()
            hinted_cmd = ["tar", "-xf", str(layer), "-C", str(out)] + (["-z"] if args.gzip else [])
            hinted.append(timed(lambda: subprocess.run(hinted_cmd, check=True)))
            shutil.rmtree(out)
            os.sync()
            out.mkdir()
            hinted_synced.append(timed(lambda: (subprocess.run(hinted_cmd, check=True),
                                                subprocess.run(["sync", "-f", str(out)], check=True))))
            shutil.rmtree(out)
            os.sync()
        mine, theirs = statistics.median(ours), statistics.median(tars)
        print(f"stackup unpack: median {mine:.3f}s  (runs {', '.join(f'{t:.2f}' for t in ours)})")
        print(f"tar -xf:        median {theirs:.3f}s  (runs {', '.join(f'{t:.2f}' for t in tars)})")
        print(f"tar -xf + sync -f: median {statistics.median(synced):.3f}s")
        print(f"tar -xf, same placement hint as stackup: median {statistics.median(hinted):.3f}s; "
              f"+ sync -f: median {statistics.median(hinted_synced):.3f}s")
        print(f"ratio stackup/tar: {mine / theirs:.2f}x (target <= 1.3x); "
              f"stackup/(tar + sync): {mine / statistics.median(synced):.2f}x; "
              f"same hint: stackup/tar {mine / statistics.median(hinted):.2f}x, "
              f"stackup/(tar + sync) {mine / statistics.median(hinted_synced):.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("run as root: layers keep owners and device nodes")
    main()
