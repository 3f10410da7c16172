"""Running the `stackup` CLI as a user would, for end-to-end tests of stacks.

`StackupCLI(root, workdir)` runs `.venv/bin/stackup` (the installed entry point, or
`python -m stackup` when there is none) in a subprocess with its own
`STACKUP_ROOT`, imports a busybox image into that root, and checks that a project
left nothing in the kernel: containers, networks, volumes, mounts, bridges, veths,
cgroups and processes, each scoped to what this root created (other tests on the
machine have their own roots).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stackup.engine.network.firewall import leftovers as firewall_leftovers
from stackup.testing.rootfs import BUSYBOX, make_busybox_rootfs, tar_directory

BUSYBOX_REF = "stackup.local/busybox:latest"


def stackup_command() -> list[str]:
    exe = Path(sys.executable).with_name("stackup")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "stackup"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def busybox_tar(folder: Path) -> Path:
    """A busybox root filesystem tarball (made once per folder)."""
    tar = folder / "busybox-rootfs.tar"
    if not tar.exists():
        tar_directory(make_busybox_rootfs(folder / "busybox-rootfs"), tar)
    return tar


class StackupCLI:
    def __init__(self, root: Path, workdir: Path, env: dict[str, str] | None = None):
        self.root = Path(root)
        self.workdir = Path(workdir)
        self.env = dict(os.environ, STACKUP_ROOT=str(self.root), **(env or {}))
        self.env.pop("COMPOSE_PROJECT_NAME", None)
        self.seen: dict[str, set[str]] = {"containers": set(), "bridges": set(), "veths": set()}
        self.seen_by_project: dict[str, dict[str, set[str]]] = {}

    def __call__(self, *args: str, check: bool = True, timeout: float = 300,
                 env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess:
        """`stackup ARGS` with `input` on its stdin (none: an empty stdin, so that `run`,
        which attaches stdin, never reads the terminal pytest was started from)."""
        proc = subprocess.run(stackup_command() + ["--progress", "plain", *args], cwd=self.workdir,
                              env=dict(self.env, **(env or {})), capture_output=True, text=True,
                              timeout=timeout, input=input,
                              stdin=subprocess.DEVNULL if input is None else None)
        self.remember()
        if check and proc.returncode != 0:
            raise AssertionError(f"stackup {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(stackup_command() + ["--progress", "plain", *args], cwd=self.workdir,
                                env=dict(self.env, **(env or {})), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def import_busybox(self, cache: Path, ref: str = BUSYBOX_REF, changes: Sequence[str] = ()) -> None:
        """Imports the busybox root file system as `ref`, with CMD ["sh"] and `changes`
        (Dockerfile lines, as `image import --change` takes them)."""
        extra = [arg for change in changes for arg in ("--change", change)]
        self("image", "import", str(busybox_tar(cache)), ref, "--change", 'CMD ["sh"]', *extra)

    def ps(self, *args: str) -> list[dict[str, Any]]:
        # one JSON object a line, as docker compose prints them
        return [json.loads(line) for line in self("ps", "--format", "json", *args).stdout.splitlines()]

    # -- what this root made in the kernel ----------------------------------------

    @staticmethod
    def _project_of(labels: dict[str, Any] | None) -> str | None:
        return (labels or {}).get("io.stackup.project")

    def _containers(self, project: str | None) -> list[Path]:
        """State files of this root's containers (of `project` only, when given)."""
        found = []
        for state in self.root.glob("containers/*/state.json"):
            if project is not None:
                try:
                    labels = json.loads(state.read_text())["spec"]["labels"]
                except (OSError, ValueError, KeyError):
                    labels = {}
                if self._project_of(labels) != project:
                    continue
            found.append(state)
        return found

    def _networks(self, project: str | None) -> list[tuple[Path, dict[str, Any]]]:
        found = []
        for path in self.root.glob("networks/*.json"):
            try:
                net = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if project is None or self._project_of(net.get("labels")) == project:
                found.append((path, net))
        return found

    def _volumes(self, project: str | None) -> list[Path]:
        found = []
        for path in self.root.glob("volumes/*"):
            if not path.is_dir():
                continue
            if project is not None:
                try:
                    labels = json.loads((path / "meta.json").read_text()).get("labels")
                except (OSError, ValueError):
                    labels = {}
                if self._project_of(labels) != project:
                    continue
            found.append(path)
        return found

    def remember(self, project: str | None = None) -> None:
        """Record ids, bridges and veths of this root (of `project`, when given) while
        they exist, to check later that they are gone."""
        seen = self.seen if project is None else self.seen_of(project)
        for state in self._containers(project):
            seen["containers"].add(state.parent.name)
        for _, net in self._networks(project):
            seen["bridges"].add(net.get("bridge", ""))
            for ep in (net.get("endpoints") or {}).values():
                seen["veths"].add(ep.get("veth", ""))
        for kind in seen.values():
            kind.discard("")

    def seen_of(self, project: str) -> dict[str, set[str]]:
        return self.seen_by_project.setdefault(project, {"containers": set(), "bridges": set(), "veths": set()})

    def leftovers(self, project: str | None = None) -> list[str]:
        """Everything of this root (of `project`, when given) still present (empty when
        all is gone)."""
        seen = self.seen if project is None else self.seen_of(project)
        found = [f"container {state.parent.name[:12]}" for state in self._containers(project)]
        found += [f"network {path.stem}" for path, _ in self._networks(project)]
        found += [f"volume {path.name}" for path in self._volumes(project)]
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        if project is None:
            found += [f"mount {m}" for m in mounts if str(self.root) in m]
        else:
            found += [f"mount {m}" for m in mounts if str(self.root) in m
                      and any(cid in m for cid in seen["containers"])]
        links = set(os.listdir("/sys/class/net"))
        found += [f"link {name}" for name in sorted(seen["bridges"] | seen["veths"]) if name in links]
        found += [f"{what} of {bridge}" for bridge in sorted(seen["bridges"]) for what in firewall_leftovers(bridge)]
        found += [f"route {route}" for route in routes_via(seen["bridges"])]
        for cid in sorted(seen["containers"]):
            for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory",
                         "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/freezer"):
                for path in Path(base).glob(f"stackup/*{cid}*"):
                    found.append(f"cgroup {path}")
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if (project is None and str(self.root) in cmdline) or any(cid in cmdline for cid in seen["containers"]):
                found.append(f"process {pid}: {cmdline[:80]}")
        return found

    def wait_gone(self, timeout: float = 10.0, keep: tuple[str, ...] = (),
                  project: str | None = None) -> list[str]:
        """Leftovers (of `project`, when given) after giving the kernel a moment
        (namespaces die asynchronously); those starting with a prefix in `keep` are
        expected and not waited for."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.leftovers(project)
            left = [item for item in left if not item.startswith(keep)] if keep else left
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)

    def cleanup(self) -> None:
        """Take down whatever a failed test left (every project of this root)."""
        for state in self.root.glob("containers/*/state.json"):
            try:
                labels = json.loads(state.read_text())["spec"]["labels"]
                project = labels.get("io.stackup.project")
            except (OSError, ValueError, KeyError):
                continue
            if project:
                self("-p", project, "down", "-v", "-t", "0", check=False)
        for path in self.root.glob("networks/*.json"):
            self("network", "rm", path.stem, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def http_get(url: str, timeout: float = 10.0) -> str:
    """The body at `url`, retried until `timeout` (a server may still be starting)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def have_busybox() -> bool:
    return BUSYBOX.exists()


def routes_via(bridges: set[str]) -> list[str]:
    """The host's routes of both families (IPv6 included) through any of `bridges`."""
    if not bridges:
        return []
    lines = []
    for family in ("-4", "-6"):
        out = subprocess.run(["ip", "-o", family, "route", "show", "table", "all"], capture_output=True, text=True)
        lines += out.stdout.splitlines()
    return [line.strip() for line in lines if set(line.split()) & bridges]


def _fixtures():
    import pytest

    @pytest.fixture(scope="session")
    def busybox_cache(tmp_path_factory):
        if not have_busybox():
            pytest.skip("busybox-static is missing")
        return tmp_path_factory.mktemp("busybox")

    @pytest.fixture
    def stack(request, tmp_path, busybox_cache):
        """A StackupCLI for the test's folder (its compose.yaml), with its own root and a
        busybox image; everything is taken down afterwards, and the test fails if a
        `down -v` left anything behind."""
        if os.geteuid() != 0:
            pytest.skip("needs root")
        import importlib.util

        for module in ("stackup.engine.runtime.container", "stackup.engine.network.wiring",
                       "stackup.engine.volumes"):
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"{module} is not in this build yet")
        cli = StackupCLI(tmp_path / "root", Path(request.fspath).parent,
                         env={"PORT": str(free_port())})
        cli.import_busybox(busybox_cache)
        yield cli
        cli.cleanup()

    return busybox_cache, stack


busybox_cache, stack = _fixtures()
