"""Building an image: stackup's builder beside `DOCKER_BUILDKIT=1 docker build` (and
`buildah bud --layers` when installed), on the same machine and the same context.

    .venv/bin/python bench/build_vs_buildkit.py [--runs 5] [--files 500] [--total-mb 0]
        [--only docker,stackup,buildah]

The context: a busybox-based Dockerfile of 8 steps after FROM (ENV, WORKDIR, RUN, COPY of
one file, RUN, COPY of a folder of --files small files, RUN over them, CMD); with
--total-mb the files share that size (the issue's large case: --files 5000 --total-mb 100).
Three timings, medians of --runs:

  cold           nothing cached: docker after `docker builder prune -af`, stackup with
                 --no-cache semantics in a fresh root (the base imported, not timed)
  no change      a rebuild of what was just built
  one file edit  a rebuild after one source file's content changed

Docker and buildah run against private daemons/stores (stackup.testing.peers); the base
is the same busybox rootfs tar, imported into each as stackup.local/busybox:latest.
Prints the medians and stackup's ratio to BuildKit (targets: cold <= 1x, no change
<= 1.2x and under 0.3 s, under 1 s at 5,000 files / 100 MB; one file edit <= 1.2x).
stackup's column is timed through `stackup image build` when that command exists and
through stackup.engine.build.build() in this process otherwise (it says which).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackup.testing import peers  # noqa: E402
from stackup.testing.images import BUSYBOX_CHANGES, BUSYBOX_REF, busybox_rootfs_tar  # noqa: E402

from _peers import median  # noqa: E402

TAG = "stackup.local/bench-build:1"
DOCKERFILE = f"""FROM {BUSYBOX_REF}
ENV APP=/app
WORKDIR /app
RUN mkdir -p /app/data && echo setup > /app/data/setup
COPY requirements.txt /app/
RUN cat requirements.txt > /app/data/deps
COPY src /app/src
RUN find /app/src -type f | wc -l > /app/data/count
CMD ["sh"]
"""
EDITED = "src/d000/f00000.txt"


def make_context(folder: Path, files: int, total_mb: float) -> Path:
    """The Dockerfile, requirements.txt and `files` files under src/ (100 per folder)."""
    size = max(1, int(total_mb * 1_000_000 / files)) if total_mb else 64
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "requirements.txt").write_text("busybox\n")
    for i in range(files):
        path = folder / "src" / f"d{i // 100:03d}" / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        line = f"file {i}\n".encode()
        path.write_bytes((line * (size // len(line) + 1))[:size])
    return folder


def edit_one_file(context: Path, run: int) -> None:
    with open(context / EDITED, "a") as f:
        f.write(f"edit {run} {time.time_ns()}\n")


def run_checked(argv: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> None:
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n"
                         f"{(proc.stdout + proc.stderr).decode(errors='replace')[-3000:]}")


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Builder:
    """One builder under test: prepare() once, then cold/warm builds of the context."""

    name = ""

    def reset(self) -> None:
        """Forget every cached step (not timed)."""

    def build(self, cold: bool) -> None:
        raise NotImplementedError


class Docker(Builder):
    name = "BuildKit"

    def __init__(self, peer: peers.Peer, context: Path):
        self.peer, self.context = peer, context
        self.env = dict(peer.env, DOCKER_BUILDKIT="1")

    def reset(self) -> None:
        self.peer.run("image", "rm", "-f", TAG, check=False)
        self.peer.run("builder", "prune", "-af", timeout=300)

    def build(self, cold: bool) -> None:
        run_checked(self.peer.command("build", "-q", "-t", TAG, str(self.context)), self.env)


class Buildah(Builder):
    name = "buildah"

    def __init__(self, folder: Path, context: Path, base_tar: Path):
        self.context = context
        self.argv = ["buildah", "--root", str(folder / "root"), "--runroot", str(folder / "run"),
                     "--storage-driver", "overlay"]
        run_checked([*self.argv, "pull", "-q", f"docker-archive:{base_tar}"])

    def reset(self) -> None:
        """Only the built image and its intermediate layers: the base stays."""
        subprocess.run([*self.argv, "rmi", "-f", TAG], capture_output=True)
        subprocess.run([*self.argv, "rmi", "--prune"], capture_output=True)

    def build(self, cold: bool) -> None:
        run_checked([*self.argv, "bud", "--layers", "-q", "-t", TAG, str(self.context)])


class Stackup(Builder):
    name = "stackup"

    def __init__(self, folder: Path, context: Path, rootfs_tar: Path):
        self.folder, self.context, self.rootfs_tar = folder, context, rootfs_tar
        self.generation = 0
        self.cli = self._has_cli()
        self.name = "stackup (CLI)" if self.cli else "stackup (build())"
        self.reset()

    @staticmethod
    def _has_cli() -> bool:
        proc = subprocess.run([sys.executable, "-m", "stackup", "image", "build", "--help"],
                              capture_output=True)
        return proc.returncode == 0

    def reset(self) -> None:
        """A fresh root with the base imported: nothing cached."""
        from stackup.engine.images.store import ImageStore

        self.generation += 1
        self.root = self.folder / f"root-{self.generation}"
        os.environ["STACKUP_ROOT"] = str(self.root)
        ImageStore(self.root / "images").import_rootfs(self.rootfs_tar, BUSYBOX_REF, list(BUSYBOX_CHANGES))
        old = self.folder / f"root-{self.generation - 1}"
        if old.exists():
            subprocess.run([sys.executable, "-m", "stackup", "builder", "prune", "-f"],
                           env=dict(os.environ, STACKUP_ROOT=str(old)), capture_output=True)
            shutil.rmtree(old, ignore_errors=True)

    def build(self, cold: bool) -> None:
        if self.cli:
            argv = [sys.executable, "-m", "stackup", "image", "build", "-q", "-t", TAG]
            run_checked([*argv, *(["--no-cache"] if cold else []), str(self.context)])
            return
        from stackup.engine.build import build
        from stackup.engine.build.model import BuildOptions

        build(BuildOptions(context=self.context, tags=[TAG], no_cache=cold))


def measure(builder: Builder, context: Path, runs: int) -> dict[str, float]:
    cold = []
    for _ in range(runs):
        builder.reset()
        cold.append(seconds(lambda: builder.build(cold=True)))
    builder.build(cold=False)
    same = [seconds(lambda: builder.build(cold=False)) for _ in range(runs)]
    edited = []
    for run in range(runs):
        edit_one_file(context, run)
        edited.append(seconds(lambda: builder.build(cold=False)))
    return {"cold": median(cold), "no change": median(same), "one file edit": median(edited)}


def stackup_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("stackup.engine.build.builder") is None:
        return "stackup's builder (stackup.engine.build.builder) is not there yet"
    return None


@contextlib.contextmanager
def builders(work: Path, context: Path, only: set[str]) -> Iterator[tuple[list[Builder], dict[str, str]]]:
    tar = busybox_rootfs_tar(work)
    ready: list[Builder] = []
    skipped: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if "docker" in only:
            try:
                peer = stack.enter_context(peers.dockerd(work / "docker"))
                args = [x for change in BUSYBOX_CHANGES for x in ("-c", change)]
                peer.run("import", *args, str(tar), BUSYBOX_REF, timeout=300)
                ready.append(Docker(peer, context))
            except peers.PeerUnavailable as exc:
                skipped["BuildKit"] = str(exc)
        if "stackup" in only:
            reason = stackup_missing()
            if reason:
                skipped["stackup"] = reason
            else:
                ready.append(Stackup(work / "stackup", context, tar))
        if "buildah" in only:
            if not shutil.which("buildah"):
                skipped["buildah"] = "not installed (Debian package buildah)"
            elif not any(isinstance(b, Docker) for b in ready):
                skipped["buildah"] = "its base image is docker's saved busybox: needs the docker peer"
            else:
                docker = next(b for b in ready if isinstance(b, Docker))
                archive = docker.peer.save(BUSYBOX_REF, work / "busybox.docker.tar")
                ready.append(Buildah(work / "buildah", context, archive))
        yield ready, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--total-mb", type=float, default=0, help="the files' total size (0: 64 bytes each)")
    parser.add_argument("--only", default="docker,stackup,buildah")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (a private dockerd, stackup's runtime)")
    with tempfile.TemporaryDirectory(prefix="stackup-bench-build-") as tmp:
        work = Path(tmp)
        context = make_context(work / "context", args.files, args.total_mb)
        print(f"8-step Dockerfile, {args.files} source files"
              + (f", {args.total_mb:g} MB" if args.total_mb else "") + f"; medians of {args.runs}")
        results: dict[str, dict[str, float]] = {}
        with builders(work, context, set(args.only.split(","))) as (ready, skipped):
            for builder in ready:
                results[builder.name] = measure(builder, context, args.runs)
        report(results, skipped)


def report(results: dict[str, dict[str, float]], skipped: dict[str, str]) -> None:
    names = list(results)
    ours = next((n for n in names if n.startswith("stackup")), None)
    header = f"{'':16}" + "".join(f"{n:>20}" for n in names) + (f"{'stackup/BuildKit':>20}" if ours and "BuildKit" in results else "")
    print(header)
    for scenario in ("cold", "no change", "one file edit"):
        line = f"{scenario:16}" + "".join(f"{results[n][scenario]:>19.3f}s" for n in names)
        if ours and "BuildKit" in results:
            line += f"{results[ours][scenario] / results['BuildKit'][scenario]:>19.2f}x"
        print(line)
    for name, reason in skipped.items():
        print(f"{name}: skipped ({reason})")


if __name__ == "__main__":
    main()
