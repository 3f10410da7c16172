"""The content digest of a build context with nothing changed (what a no-change rebuild pays).

    .venv/bin/python bench/build_context_hash.py [--runs 5] [--files 500 5000] [--ignore]

For each size: a context of small files in nested folders (about 50 per folder, 20 KB
at most each), one digest to fill the stat cache, then the median of `--runs` digests
of `COPY . .` (resolving the source, walking, hashing; a fresh ContentHasher each time,
as a new build makes one). Target: well under 0.3 s at 5,000 files. Also prints the
cold digest (every file read) for reference. `--ignore` adds a .dockerignore with a
few patterns and an exception, so the matcher's cost shows.

The tree is written, then the bench waits out the racy window (files whose ctime is
that recent are not cached), as a real edit-then-build rarely meets it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackup.engine.build.context import RACY_WINDOW, ContentHasher, resolve_sources  # noqa: E402
from stackup.engine.build.dockerignore import read_ignore  # noqa: E402

from _timing import timed  # noqa: E402

IGNORE = "*.log\n**/__pycache__\nbuild\n!build/keep.txt\n.git\n"


def make_context(root: Path, files: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    for i in range(files):
        folder = root / f"d{i // 250}" / f"s{(i // 50) % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.py").write_bytes(rng.randbytes(rng.randint(100, 20_000)))


def digest(root: Path, cache: Path) -> None:
    matcher = read_ignore(root, root / "Dockerfile")
    with ContentHasher(cache) as hasher:
        hasher.digest(root, resolve_sources(root, ["."], matcher), matcher)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--ignore", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stackup-bench-ctx-") as tmp:
        trees = []
        for count in args.files:
            root = Path(tmp) / f"ctx{count}"
            make_context(root, count)
            if args.ignore:
                (root / ".dockerignore").write_text(IGNORE)
            trees.append((count, root, Path(tmp) / f"cache{count}.db"))
        time.sleep(RACY_WINDOW + 0.2)
        for count, root, cache in trees:
            cold = timed(lambda: digest(root, cache))
            warm = statistics.median(timed(lambda: digest(root, cache)) for _ in range(args.runs))
            print(f"{count:6d} files: no change {warm * 1000:7.1f} ms (median of {args.runs}), "
                  f"cold {cold * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
