"""A pytest plugin: fixtures that bring a stack up for a test and always take it down.

Installed as the `pytest11` entry point `stackup`, so any project that has stackup
installed gets:

- `stackup_stack`: a factory. `stackup_stack("path/to/compose.yaml" or a folder,
  services=None, env=None, project=None, wait=False) -> Stack` runs `stackup up -d`
  and returns a `Stack` (`.project`, `.port(service, container_port) -> (host, port)`,
  `.exec(service, cmd)`, `.logs(service)`, `.ps()`, and `.cli` for any other command).
- `stackup`: the marker form. `@pytest.mark.stackup("compose.yaml", services=[...],
  env={...})` on a test that takes the `stackup` fixture brings that stack up.
- `stackup_root`: the STACKUP_ROOT the test's stacks use. Each test gets its own,
  unless `--stackup-root PATH` or the ini option `stackup_root` names one to share
  (e.g. to keep pulled images between tests).
- `stackup_prepare_root`: override it to ready a fresh root (import or pull images);
  it gets the `StackupCLI` of the root.
- `stackup_busybox`: for stacks of busybox images (stackup's own tests). It skips the
  test unless it runs as root with busybox-static installed; otherwise it is a function
  `(cli, ref="stackup.local/busybox:latest", changes=())` that imports a busybox root
  file system (CMD ["sh"], plus the Dockerfile lines `changes`) into `cli`'s root, so
  that `stackup_prepare_root` can return it as is.

Whatever the test does, each stack it brought up is taken down with `down -v` after
it (also when the test fails); then the leak check of `stackup.testing.stack` runs,
scoped to the stack's project, and the test errors if anything of it was left
(container, network, volume, mount, bridge, veth, cgroup or process).

A relative path is resolved against the test file's folder.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from stackup.testing.stack import BUSYBOX_REF, StackupCLI, have_busybox

MARKER = "stackup"
STACKS = pytest.StashKey[list["Stack"]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test's report carries the logs of the stacks it brought up (they are
    taken down right after)."""
    report = yield
    if report.failed and call.when == "call":
        for stack in item.stash.get(STACKS, []):
            try:
                text = stack("logs", "--no-color", "--timestamps", check=False).stdout
            except Exception as exc:  # noqa: BLE001 - a report must not fail
                text = f"(logs unavailable: {exc})"
            report.sections.append((f"stackup logs: {stack.project}", text))
    return report


class Stack:
    """One project brought up for a test, driven through the `stackup` CLI."""

    def __init__(self, cli: StackupCLI, files: Sequence[Path], project: str):
        self.cli = cli
        self.files = list(files)
        self.project = project

    def __call__(self, *args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess:
        """`stackup -f FILE -p PROJECT ARGS...`; raises on a non-zero exit unless
        `check=False`."""
        options: list[str] = []
        for file in self.files:
            options += ["-f", str(file)]
        try:
            return self.cli(*options, "-p", self.project, *args, check=check, **kwargs)
        finally:
            self.cli.remember(self.project)

    def ps(self, *args: str) -> list[dict[str, Any]]:
        # one JSON object a line, as docker compose prints them
        return [json.loads(line) for line in self("ps", "--format", "json", *args).stdout.splitlines()]

    def port(self, service: str, container_port: int | str, protocol: str = "tcp",
             index: int = 1) -> tuple[str, int]:
        """The host address and port `service`'s `container_port` is published on."""
        out = self("port", "--protocol", protocol, "--index", str(index), service,
                   str(container_port)).stdout.strip()
        host, _, port = out.rpartition(":")
        return host.strip("[]"), int(port)

    def exec(self, service: str, cmd: str | Sequence[str], check: bool = True,
             index: int = 1) -> subprocess.CompletedProcess:
        """Run `cmd` (a list, or a string for `sh -c`) in the service's container."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return self("exec", "-T", "--index", str(index), service, *argv, check=check)

    def url(self, service: str, container_port: int | str, scheme: str = "http", path: str = "/") -> str:
        """`scheme://host:port/path` of `service`'s published `container_port`."""
        host, port = self.port(service, container_port)
        host = f"[{host}]" if ":" in host else ("127.0.0.1" if host in ("", "0.0.0.0") else host)
        return f"{scheme}://{host}:{port}{path}"

    # one service's faults and recoveries, for tests of how the others cope
    def stop(self, service: str) -> None:
        self("stop", service)

    def kill(self, service: str, signal: str = "SIGKILL") -> None:
        self("kill", "-s", signal, service)

    def start(self, service: str) -> None:
        self("start", service)

    def restart(self, service: str) -> None:
        self("restart", service)

    def pause(self, service: str) -> None:
        self("pause", service)

    def unpause(self, service: str) -> None:
        self("unpause", service)

    def wait_healthy(self, *services: str, timeout: float = 120) -> None:
        """Until the services' containers are healthy (or running, without a healthcheck)."""
        self("up", "-d", "--no-recreate", "--wait", "--wait-timeout", str(int(timeout)), *services)

    def logs(self, service: str | None = None) -> str:
        return self("logs", "--no-color", "--no-log-prefix", *([service] if service else [])).stdout

    def down(self) -> None:
        self("down", "-v", "-t", "0", check=False)


def _project_name(cli: StackupCLI, files: Sequence[Path]) -> str:
    """The name compose gives the project (its `name:`, or the folder's)."""
    options: list[str] = []
    for file in files:
        options += ["-f", str(file)]
    out = cli(*options, "config", "--format", "json", "--no-consistency").stdout
    return json.loads(out)["name"]


def _files(base: Path, path_or_files: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [path_or_files] if isinstance(path_or_files, (str, Path)) else list(path_or_files)
    files = []
    for item in items:
        path = Path(item)
        path = path if path.is_absolute() else base / path
        if path.is_dir():
            path = path / "compose.yaml"
        if not path.exists():
            raise FileNotFoundError(f"stackup_stack: no stack file {path}")
        files.append(path)
    return files


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackup")
    group.addoption("--stackup-root", default=None,
                    help="one STACKUP_ROOT for every test's stacks (default: a new one per test)")
    parser.addini("stackup_root", "one STACKUP_ROOT for every test's stacks (default: one per test)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(path, services=None, env=None, project=None, wait=False): bring the "
        "stack up for the test (the `stackup` fixture) and take it down afterwards")


@pytest.fixture
def stackup_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    configured = request.config.getoption("--stackup-root") or request.config.getini("stackup_root")
    return Path(configured) if configured else tmp_path / "stackup-root"


@pytest.fixture
def stackup_prepare_root() -> Any:
    """Called with the root's `StackupCLI` before the first stack of a test comes up;
    override it to import or pull the images the stacks need."""
    return lambda cli: None


@pytest.fixture(scope="session")
def stackup_busybox(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., None]:
    """Imports busybox into a root: `(cli, ref=BUSYBOX_REF, changes=())`; skips the test
    unless it runs as root with busybox-static installed. The root file system is made
    once a session."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not have_busybox():
        pytest.skip("busybox-static is missing")
    cache = tmp_path_factory.mktemp("busybox")

    def import_busybox(cli: StackupCLI, ref: str = BUSYBOX_REF, changes: Sequence[str] = ()) -> None:
        cli.import_busybox(cache, ref, changes)

    return import_busybox


@pytest.fixture
def stackup_stack(request: pytest.FixtureRequest, stackup_root: Path, stackup_prepare_root: Any):
    base = request.path.parent
    cli = StackupCLI(stackup_root, base)
    stacks: list[Stack] = []
    prepared = False

    def bring_up(path: str | Path | Iterable[str | Path], services: Sequence[str] | None = None,
                 env: Mapping[str, str] | None = None, project: str | None = None,
                 wait: bool = False) -> Stack:
        nonlocal prepared
        if not prepared:
            stackup_root.mkdir(parents=True, exist_ok=True)
            stackup_prepare_root(cli)
            prepared = True
        files = _files(base, path)
        cli.env.update({str(k): str(v) for k, v in (env or {}).items()})
        stack = Stack(cli, files, project or _project_name(cli, files))
        # registered before `up`, so that a half-made stack is taken down too
        stacks.append(stack)
        stack("up", "-d", *(["--wait"] if wait else []), *(services or []))
        return stack

    request.node.stash[STACKS] = stacks   # for the report of a failing test
    yield bring_up
    problems = []
    for stack in reversed(stacks):
        stack.down()
        left = cli.wait_gone(project=stack.project)
        if left:
            problems.append(f"stack {stack.project} left behind: " + ", ".join(left))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def stackup(request: pytest.FixtureRequest, stackup_stack: Any) -> Stack:
    """The stack of the test's `@pytest.mark.stackup(...)` marker, up for the test."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        raise pytest.UsageError("the `stackup` fixture needs @pytest.mark.stackup(path, ...)")
    return stackup_stack(*marker.args, **marker.kwargs)
