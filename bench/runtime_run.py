"""Benchmark of the container runtime (run as root): prints medians over several runs.

1. `stackup container run --rm IMAGE true` end to end, as a user types it (target < 250 ms).
   Also the same through the engine API in one process (no CLI start-up).
2. create + start until PID 1 is running, inside one process (target < 50 ms).
3. Memory of idle shims with ten containers running: RSS and PSS (smaps_rollup) per shim
   (targets <= 10 MB RSS, <= 4 MB PSS).
Docker and podman figures are printed side by side when they are installed and working: a\nprivate dockerd / podman each with its own state and busybox loaded (bench/_peers.py).

Usage: .venv/bin/python bench/runtime_run.py [--runs N] [--image REF]
IMAGE defaults to `busybox` from the image store when it has it, else a busybox root
file system directory (`dir:`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import memory_kb  # noqa: E402


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms"


def pick_image(root: Path, wanted: str | None) -> tuple[str, list[str], object]:
    if wanted and not wanted.startswith("dir:"):
        from stackup.cli.container import resolve_image

        config, layers, _ = resolve_image(wanted)
        return wanted, layers, config
    if not wanted:
        try:  # a `busybox` image in the (fresh) store, made from Debian's busybox-static
            from stackup.cli.container import resolve_image
            from stackup.engine.images.store import ImageStore
            from stackup.testing.rootfs import make_busybox_rootfs, tar_directory

            tar = tar_directory(make_busybox_rootfs(root / "bb-image"), root / "bb.tar")
            ImageStore().import_rootfs(tar, "busybox")
            config, layers, _ = resolve_image("busybox")
            return "busybox", layers, config
        except ImportError:  # no image store in this build: use a directory
            pass
    from stackup.testing.rootfs import make_busybox_rootfs

    path = Path(wanted[4:]) if wanted else make_busybox_rootfs(root / "busybox")
    return f"dir:{path}", [str(path)], {}


def cli_run(image: str, env: dict, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stackup", "container", "run", "--rm", image,
                        "true"], env=env, check=True)
        times.append(time.perf_counter() - t)
    return times


def cli_floor(env: dict, runs: int) -> list[float]:
    """`stackup container ps` on an empty root: what any container command costs before
    the runtime does anything (interpreter, typer and its pydantic coercion)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stackup", "container", "ps"], env=env,
                       check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return times


def engine_run(rt, layers, runs: int) -> list[float]:
    from stackup.engine.runtime.spec import ContainerSpec

    times = []
    for _ in range(runs):
        t = time.perf_counter()
        state = rt.create(ContainerSpec(layers=layers, argv=["true"]))
        rt.start(state.id)
        rt.wait(state.id)
        rt.remove(state.id)
        times.append(time.perf_counter() - t)
    return times


def create_start(rt, layers, runs: int) -> tuple[list[float], list[float], list[str]]:
    """Time create and start of `sleep`: start returns once PID 1 has exec'd (the shim
    reports after the exec succeeded)."""
    from stackup.engine.runtime.spec import ContainerSpec

    creates, starts, ids = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        state = rt.create(ContainerSpec(layers=layers, argv=["sleep", "1000"]))
        t1 = time.perf_counter()
        rt.start(state.id)
        t2 = time.perf_counter()
        creates.append(t1 - t0)
        starts.append(t2 - t1)
        ids.append(state.id)
        settle(rt, state.id)
    return creates, starts, ids


def settle(rt, cid: str) -> None:
    """Let the shim finish its own start-up (it runs after PID 1 is up) before the next
    measurement, so each figure is one container's start, not a queue of them."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(f"/proc/{rt.get(cid).shim_pid}/cmdline", "rb") as f:
            if b"stackup-shim" in f.read() and rt.get(cid).get("restart_count") is not None:
                break
        time.sleep(0.01)
    time.sleep(0.2)


def other_engines(work: Path, runs: int) -> dict[str, dict[str, str]]:
    """The same figure for a private dockerd and a private podman (bench/_peers.py: their
    own state directories, busybox loaded; never the system's docker or podman state)."""
    from _peers import BUSYBOX, ready_peers, timed

    figures: dict[str, dict[str, str]] = {}
    with ready_peers(work / "peers") as found:
        for name, peer in found.items():
            if isinstance(peer, str):
                figures[name] = {"skipped": peer}
                continue
            argv = peer.command("run", "--rm", "--network", "none", BUSYBOX, "true")
            timed(argv, peer.env)  # warm-up
            figures[name] = {"run --rm --network none busybox true": median_ms(timed(argv, peer.env, runs=runs))}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--image", default=None)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="stackup-bench-"))
    os.environ["STACKUP_ROOT"] = str(work / "root")
    from stackup.engine.runtime.container import Runtime

    rt = Runtime()
    image, layers, _ = pick_image(work, args.image)
    env = dict(os.environ)
    ids: list[str] = []
    try:
        # Warm caches (page cache, bytecode). The warm-up may write .pyc files even when
        # PYTHONDONTWRITEBYTECODE is set here: an installed stackup has its bytecode, and
        # without it every run would compile the CLI's modules (~40 ms) again.
        cli_run(image, {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}, 1)
        e2e = cli_run(image, env, args.runs)
        floor = cli_floor(env, args.runs)
        eng = engine_run(rt, layers, args.runs)
        creates, starts, ids = create_start(rt, layers, 10)
        time.sleep(1.0)  # let the shims settle to idle
        mem = [memory_kb(rt.get(cid).shim_pid) for cid in ids]
        total = [c + s for c, s in zip(creates, starts)]
        print(f"stackup runtime benchmark ({args.runs} runs, image {image})")
        print(f"  container run --rm IMAGE true, CLI end to end   {median_ms(e2e)}  (target < 250 ms)")
        print(f"    of which the CLI's own start (container ps)   {median_ms(floor)}")
        print(f"  same through the engine API in one process      {median_ms(eng)}")
        print(f"  create                                          {median_ms(creates)}")
        print(f"  start (until PID 1 has exec'd)                  {median_ms(starts)}")
        print(f"  create + start                                  {median_ms(total)}  (target < 50 ms)")
        rss = [r for r, _ in mem]
        pss = [p for _, p in mem]
        print(f"  idle shim, 10 containers: RSS median {statistics.median(rss) / 1024:.1f} MB "
              f"(max {max(rss) / 1024:.1f}), PSS median {statistics.median(pss) / 1024:.1f} MB "
              f"(max {max(pss) / 1024:.1f})  (targets <= 10 MB, <= 4 MB)")
        for tool, figures in other_engines(work, args.runs).items():
            for key, value in figures.items():
                print(f"  {tool}: {key} {value}")
    finally:
        for cid in ids:
            rt.remove(cid, force=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
