"""Fault injection for stacks: kill a `stackup` command at a random moment, then check
that the next `up -d` converges and the next `down -v` leaves nothing.

    trials = FaultTrials(cli, seed=1234)        # cli: a StackupCLI on the stack's folder
    trials.measure()                            # how long each command takes, unkilled
    trials.trial("up")                          # one kill-recover-check-clean cycle

A trial runs its command in a process group of its own and SIGKILLs the whole group
after a delay drawn (from the seeded generator) within the command's measured
duration, so that the kill lands inside the command. Then `up -d` must bring the
stack to its desired state (`Expectation`: one running container per service, the
published port answering through a name lookup, the volume's data intact) and
`down -v` must leave nothing: `StackupCLI.wait_gone` (containers, networks, volumes,
mounts, links, rules, cgroups, processes) and no file of the project under the root.

Every failure message names the seed, the command and the delay, so that
`FaultTrials(cli, seed=S)` replays it (the trials of one seed draw the same delays
in the same order).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stackup.testing.stack import StackupCLI, http_get, stackup_command

SENTINEL = "/data/sentinel"
STACK_DIR = Path(__file__).resolve().parents[2] / "tests" / "faults"   # in a checkout


@dataclass(frozen=True)
class Expectation:
    """What the stack looks like once converged."""

    project: str
    services: Sequence[str]
    page: str                    # a path on the published port whose body starts with `answer`
    answer: str
    volume_service: str          # a service mounting the named volume at /data
    port_env: str = "PORT"


# tests/faults/compose.yaml, converged
TESTS_STACK = Expectation(project="faults", services=("api", "cache", "db", "web", "worker"),
                          page="/cgi-bin/api", answer="api ", volume_service="db")


@dataclass
class Killed:
    """A command killed at a moment: what it printed before, and when it was killed."""

    args: tuple[str, ...]
    delay: float
    returncode: int | None
    output: str


# The commands a trial kills, as (setup before the kill, command). The setups: "up"
# (the stack running), "down" (nothing of it), "absent" (nothing, nor its image: the
# stack names its image by IMAGE, one in a registry). `GEN` changes the config of some
# services, so that `up -d` with another GEN recreates them.
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "up": ("down", ("up", "-d")),
    "down": ("up", ("down",)),
    "down-v": ("up", ("down", "-v")),
    "recreate": ("up", ("up", "-d")),        # with the next GEN: recreates db, web, worker
    "run": ("up", ("run", "--rm", "worker", "sh", "-c", "echo one-off; sleep 1")),
}
PULL = ("absent", ("pull",))                 # with a registry at hand (see tests/faults)


@dataclass
class FaultTrials:
    cli: StackupCLI
    expect: Expectation
    seed: int
    log: Callable[[str], None] = print
    durations: dict[str, float] = field(default_factory=dict)
    generation: int = 0
    sentinel: str = ""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def reseed(self, *parts: object) -> None:
        """Draw from a generator of (seed, parts): a trial replays alone, whatever ran before."""
        self.rng = random.Random(":".join(map(str, (self.seed, *parts))))

    # -- running commands ------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {"GEN": str(self.generation)}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.cli(*args, check=check, env=self.env(), timeout=120)

    def kill_after(self, args: Sequence[str], delay: float) -> Killed:
        """Run `stackup ARGS` in a process group of its own and SIGKILL the group after
        `delay` seconds (unless it ended before)."""
        proc = subprocess.Popen(stackup_command() + ["--progress", "plain", *args], cwd=self.cli.workdir,
                                env=dict(self.cli.env, **self.env()), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.append(proc.stdout.read() if proc.stdout else ""),
                                  daemon=True)
        reader.start()
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and proc.poll() is None:
            self.cli.remember()   # ids of what it makes, to check later that they are gone
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        returncode = proc.wait()
        reader.join(5)
        self.cli.remember()
        return Killed(tuple(args), delay, returncode, "".join(output))

    def timed(self, *args: str) -> float:
        started = time.monotonic()
        self.run(*args)
        return time.monotonic() - started

    # -- the trial cycle ---------------------------------------------------------------

    def measure_pull(self) -> None:
        """The duration of a pull of the stack's image (IMAGE, absent before)."""
        self.durations["start"] = self.timed("ps")
        self.run("image", "rm", self.cli.env["IMAGE"])
        self.durations["pull"] = self.timed("pull")

    def measure(self) -> None:
        """Each command's duration when nothing kills it (the delays are drawn within),
        and the CLI's start (`ps`: loading the stack, no change), before which a kill
        finds nothing to interrupt."""
        self.durations["start"] = self.timed("ps")
        self.durations["up"] = self.timed("up", "-d")
        self.write_sentinel()
        self.durations["run"] = self.timed(*COMMANDS["run"][1])
        self.generation += 1
        self.durations["recreate"] = self.timed("up", "-d")
        self.durations["down"] = self.timed("down")
        self.timed("up", "-d")
        self.durations["down-v"] = self.timed("down", "-v")
        self.log("measured: " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(self.durations.items())))

    def trial(self, command: str) -> Killed:
        """One trial: ready the stack, kill `command` at a random moment, recover with
        `up -d`, check convergence, take it down with `down -v`, check for leaks."""
        setup, args = PULL if command == "pull" else COMMANDS[command]
        self.run(*(("up", "-d") if setup == "up" else ("down", "-v")))
        if setup == "absent":
            self.run("image", "rm", self.cli.env["IMAGE"])
        if setup == "up":
            self.write_sentinel()
        if command == "recreate":
            self.generation += 1
        fraction = round(self.rng.uniform(0.0, 1.0), 3)
        duration = self.durations.get(command, 2.0)
        start = min(0.8 * self.durations.get("start", 0.0), duration / 2)
        delay = round(start + fraction * (duration - start), 3)
        killed = self.kill_after(args, delay)
        where = (f"seed={self.seed} command={command} delay={delay}s "
                 f"({fraction} of the way from {start:.2f}s to {duration:.2f}s)")
        self.log(f"killed {' '.join(args)} after {delay}s ({where})")
        try:
            recovered = self.run("up", "-d", check=False)
            assert recovered.returncode == 0, f"up -d after the kill failed:\n{recovered.stdout}{recovered.stderr}"
            repairs = [line for line in recovered.stderr.splitlines() if "repair" in line.lower()]
            for line in repairs:
                self.log(f"  {line}")
            self.check_converged(data=setup == "up" and command != "down-v")
            self.take_down()
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}\n--- the killed command printed:\n{killed.output}") from None
        return killed

    def take_down(self) -> None:
        self.run("down", "-v")
        left = self.cli.wait_gone(timeout=15) + self.stray_files() + self.image_scratch()
        assert left == [], f"down -v left {left}"
        self.sentinel = ""

    # -- checks --------------------------------------------------------------------------

    def write_sentinel(self) -> None:
        """Write a new value into the volume, which every later check expects there."""
        self.sentinel = f"data-{self.rng.randrange(1 << 30)}"
        self.run("exec", "-T", self.expect.volume_service, "sh", "-c",
                     f"echo {self.sentinel} > {SENTINEL}")

    def check_converged(self, data: bool) -> None:
        """One running container per service (none more in the engine), the published
        port answering through a name lookup, and (`data`) the volume's sentinel."""
        project = self.expect.project
        rows = [r for r in self.cli.ps("-a") if "-run-" not in r["Name"]]
        names = sorted(r["Name"] for r in rows)
        wanted = sorted(f"{project}-{s}-1" for s in self.expect.services)
        assert names == wanted, f"ps lists {names}, expected {wanted}"
        not_running = [f"{r['Name']}: {r['State']}" for r in rows if r["State"] != "running"]
        assert not not_running, f"not running: {not_running}"
        held = self.engine_containers()
        assert len(held) == len(wanted), f"the engine holds {len(held)} containers ({sorted(held)}), ps lists {len(wanted)}"
        shims = self.shims()
        strays = sorted(set(shims) - set(held) - set(self.oneoffs()))
        assert not strays, f"shims of containers the engine does not list: {strays}"
        port = self.cli.env[self.expect.port_env]
        body = http_get(f"http://127.0.0.1:{port}{self.expect.page}", timeout=20)
        assert body.startswith(self.expect.answer), f"the published port answered {body!r}"
        if data and self.sentinel:
            got = self.run("exec", "-T", self.expect.volume_service, "cat", SENTINEL, check=False)
            assert got.stdout.strip() == self.sentinel, f"the volume lost its data: {got.stdout!r} {got.stderr!r}"

    def _project_states(self) -> list[tuple[str, dict]]:
        found = []
        for state in self.cli.root.glob("containers/*/state.json"):
            try:
                labels = json.loads(state.read_text())["spec"]["labels"]
            except (OSError, ValueError, KeyError):
                labels = {}
            if labels.get("io.stackup.project") == self.expect.project:
                found.append((state.parent.name, labels))
        return found

    def engine_containers(self) -> list[str]:
        """Ids of the project's service containers the engine has a state for."""
        return [cid for cid, labels in self._project_states() if labels.get("io.stackup.oneoff") != "True"]

    def oneoffs(self) -> list[str]:
        return [cid for cid, labels in self._project_states() if labels.get("io.stackup.oneoff") == "True"]

    def shims(self) -> list[str]:
        """Container ids of the shims running under this root."""
        found = []
        marker = str(self.cli.root / "containers") + "/"
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"stackup-shim" in argv:
                for arg in argv:
                    text = arg.decode(errors="replace")
                    if text.startswith(marker):
                        found.append(text[len(marker):])
        return found

    def image_scratch(self) -> list[str]:
        """What pulls left half written in the image store (blobs and layers in the making)."""
        images = self.cli.root / "images"
        found = [*(images / "blobs" / "tmp").glob("*"), *(images / "layers").glob(".tmp-*"),
                 *(images / "layers").glob(".del-*")]
        return [f"file {path.relative_to(self.cli.root)}" for path in found]

    def stray_files(self) -> list[str]:
        """Files the project's containers, networks and ports left under the root (their
        logs, records and half-written temporary files)."""
        root = self.cli.root
        found = []
        for folder in ("containers", "networks", "ports", "network-run", "netns"):
            for path in sorted((root / folder).glob("*")):
                if path.name in (".lock",) or path.name.endswith(".lock"):
                    continue
                found.append(f"file {path.relative_to(root)}")
        return found
