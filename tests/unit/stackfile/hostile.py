"""Stack files as hostile input: mutations of real projects, and the CLI run on them within bounds.

Shared by the fuzz test beside this file (twenty derandomized examples) and the soak run
in bench/spec_fuzz.py (as many as asked, each replayable from its seed). A mutation is made
from a `random.Random`, so hypothesis (through `st.randoms()`) and the soak script drive the
same code.
"""

from __future__ import annotations

import os
import random
import resource
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.unit.stackfile import conformance

SEEDS = Path(__file__).with_name("fuzz_seeds")  # copies of conformance cases: CI has them in-repo
CASES = Path(__file__).with_name("cases")

MEMORY = 512 * 2 ** 20  # address space a run may add to what the test process already maps
SECONDS = 30.0          # wall time a run may take (the machine may be busy)

# Values a mutation writes where a value was: other types, huge numbers, odd unicode, templates.
TOKENS = ["null", "~", "[]", "{}", "[x, [y]]", "{a: {b: c}}", "true", "yes", "-1", "0", "0.5", "1e999",
          "-1e999", ".nan", "9" * 40, "-" + "9" * 400, "0x" + "f" * 80, "0x" + "f" * 4000, "0o777777777777777777777",
          "99999999999999999999g", "9999999999999999999h", "1e400s", "1:2:3:4", "65536:80",
          "${X}", "${X:-${Y:-z}}", "${X:?required}", "$${X}", "${", "$", "!reset", "!override x",
          "'\u202etxet'", "\"\\u0000\"", "'\ufeffbom'", "\U0001f600", "'a\u2028b'", "ｆｕｌｌ", "\"\\x85\"",
          "*nosuch", "&a x", "<<: *nosuch", ":", "'", "\"", "- - -", "? x", "|", ">-", "%TAG ! x"]
# Bytes that are not UTF-8: a lone continuation, a truncated sequence, a surrogate, past U+10FFFF.
BAD_BYTES = [b"\xff", b"\x80", b"\xc3(", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xfe\xfe"]


def seed_projects() -> list[Path]:
    """Every project a mutation may start from: the seed copies, then the repository's own cases."""
    found = []
    for root in (SEEDS, CASES):
        if root.is_dir():
            found += sorted(p for p in root.iterdir() if (p / "cmd").is_file())
    return found


def case_argv(project: Path) -> list[str]:
    """The case's own command line (always a `config`)."""
    return shlex.split((project / "cmd").read_text())


def global_flags(argv: list[str]) -> list[str]:
    """The flags before the command (`-f`, `--env-file`, `-p`...)."""
    return argv[:argv.index("config")]


def _inputs(work: Path) -> list[Path]:
    names = ("SOURCE", "cmd", "environ")
    return sorted(p for p in work.rglob("*") if p.is_file() and p.name not in names
                  and not p.name.startswith("expected"))


# -- mutations (each edits a list of lines and says what it did) ---------------------

def _line(lines: list[str], rng: random.Random) -> int:
    return rng.randrange(len(lines)) if lines else 0


def _set_value(lines: list[str], index: int, value: str) -> None:
    if not lines:
        lines.append(value)
        return
    head, sep, _ = lines[index].partition(": ")
    lines[index] = f"{head}: {value}" if sep else f"{lines[index]} {value}"


def delete_line(lines, rng):
    if lines:
        del lines[_line(lines, rng)]
    return "delete a line"


def duplicate_line(lines, rng):
    if lines:
        lines.insert(_line(lines, rng), lines[_line(lines, rng)])
    return "duplicate a line"


def swap_value(lines, rng):
    token = rng.choice(TOKENS)
    _set_value(lines, _line(lines, rng), token)
    return f"a value becomes {token[:40]!r}"


def reindent(lines, rng):
    i = _line(lines, rng)
    if lines:
        lines[i] = " " * rng.randrange(9) + lines[i].lstrip()
    return "reindent a line"


def odd_unicode(lines, rng):
    i = _line(lines, rng)
    char = rng.choice(["\u202e", "\ufeff", "\u2028", "\x85", "\u00a0", "\U0001f600", "\u0301", "\x00", "\x1b"])
    if lines:
        at = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:at] + char + lines[i][at:]
    return f"insert U+{ord(char):04X}"


def deep_nesting(lines, rng):
    depth = rng.choice([50, 126, 127, 129, 300, 1000, 3000])
    opener, closer = rng.choice([("[", "]"), ("{a: ", "}")])
    _set_value(lines, _line(lines, rng), opener * depth + "x" * (opener == "{a: ") + closer * depth)
    return f"nest {depth} levels of {opener.strip()}"


def nested_variables(lines, rng):
    depth = rng.choice([10, 64, 66, 200, 1000])
    _set_value(lines, _line(lines, rng), '"' + "${A:-" * depth + "x" + "}" * depth + '"')
    return f"nest {depth} variables"


def alias_bomb(lines, rng):
    levels, fan = rng.randrange(3, 10), rng.randrange(3, 12)
    bomb = ["x-b0: &b0 [" + ", ".join(["lol"] * fan) + "]"]
    bomb += [f"x-b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * fan) + "]" for i in range(1, levels)]
    lines[0:0] = bomb
    _set_value(lines, rng.randrange(levels, len(lines)), f"*b{levels - 1}")
    return f"an alias bomb of {levels} levels, {fan} wide"


def aliased_text(lines, rng):
    size, uses = rng.choice([1_000, 100_000, 400_000]), rng.choice([10, 200, 2_000])
    lines[0:0] = [f"x-s: &s '{'x' * size}'", "x-uses: [" + ", ".join(["*s"] * uses) + "]"]
    return f"a {size:,}-character string aliased {uses:,} times"


def wide_merge(lines, rng):
    keys = rng.choice([100, 5_000, 20_000])
    lines[0:0] = ["x-wide: &wide {" + ", ".join(f"k{i}: v" for i in range(keys)) + "}",
                  "x-merged: {<<: [*wide, *wide]}"]
    return f"merge a {keys:,}-key mapping"


def unterminated_quote(lines, rng):
    i = _line(lines, rng)
    if lines:
        lines[i] += rng.choice(["'", '"', '="', "='"])
    return "an unterminated quote"


LINE_MUTATIONS = [delete_line, duplicate_line, swap_value, swap_value, reindent, odd_unicode, deep_nesting,
                  nested_variables, alias_bomb, aliased_text, wide_merge, unterminated_quote]


@dataclass
class Mutant:
    """A mutated copy of a seed project, ready to run."""

    project: Path
    argv: list[str]
    environ: dict[str, str]
    changes: list[str] = field(default_factory=list)


def mutate(seed: Path, into: Path, rng: random.Random) -> Mutant:
    """A copy of `seed` under `into` with one to three mutations of its files."""
    work = into / seed.name
    shutil.copytree(seed, work)
    for path in work.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    mutant = Mutant(work, case_argv(work), conformance.environ_of(work))
    inputs = _inputs(work)
    for _ in range(rng.randrange(1, 4)):
        target = rng.choice(inputs)
        data = target.read_bytes()
        name = target.relative_to(work)
        if rng.random() < 0.15:  # bytes that are not UTF-8 text
            at = rng.randrange(len(data) + 1)
            bad = rng.choice(BAD_BYTES)
            target.write_bytes(data[:at] + bad + data[at:])
            mutant.changes.append(f"{name}: insert bytes {bad!r} at {at}")
            continue
        lines = data.decode("utf-8", "replace").splitlines()
        change = rng.choice(LINE_MUTATIONS)(lines, rng)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        mutant.changes.append(f"{name}: {change}")
    return mutant


# -- running the CLI within bounds --------------------------------------------------------

@dataclass
class Outcome:
    argv: list[str]
    code: int | None          # None: killed (out of time)
    out: str
    err: str
    seconds: float
    grew_kb: int              # how far the child's peak resident size rose above the test process's

    def problem(self) -> str | None:
        """What is wrong with this run, if anything: a hostile file must still end cleanly."""
        if self.code is None:
            return f"ran past {SECONDS:.0f} s"
        if self.code not in (0, 1, 2):
            return f"exit code {self.code}"
        for marker in ("Traceback", "internal error", "MemoryError", "RecursionError"):
            if marker in self.err:
                return f"{marker}: {self.err.strip().splitlines()[0][:300]}"
        return None


def run_bounded(argv: list[str], cwd: Path, environ: dict[str, str], *, memory: int = MEMORY,
                seconds: float = SECONDS) -> Outcome:
    """`stackup ARGV` in a forked child limited to `memory` more address space and `seconds`.

    In-process (no interpreter start, the CLI already imported), yet a run that allocates without
    bound fails on its own limit instead of taking the machine down with it.
    """
    from stackup.cli.main import main

    with tempfile.TemporaryDirectory(prefix="stk-hostile-") as tmp:
        out_path, err_path = Path(tmp, "out"), Path(tmp, "err")
        started = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pid = os.fork()
        if pid == 0:  # the child: never returns into the test process
            code = 70
            try:
                _child_setup(cwd, environ, out_path, err_path, memory)
                code = main(argv)
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
        status, usage = _wait(pid, seconds)
        elapsed = time.monotonic() - started
        code = None if status is None else (os.waitstatus_to_exitcode(status))
        return Outcome(argv, code, out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
                       elapsed, max(0, (usage.ru_maxrss if usage else 0) - before))


def _child_setup(cwd: Path, environ: dict[str, str], out_path: Path, err_path: Path, memory: int) -> None:
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    out = open(out_path, "w", encoding="utf-8")  # noqa: SIM115 - closed by the child's exit
    err = open(err_path, "w", encoding="utf-8")  # noqa: SIM115
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    sys.stdout, sys.stderr = out, err
    sys.stdin = open(os.devnull)  # noqa: SIM115
    mapped = _address_space()
    resource.setrlimit(resource.RLIMIT_AS, (mapped + memory, mapped + memory))


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _wait(pid: int, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            return None, None
        time.sleep(0.005)


def run_both(mutant: Mutant, root: Path) -> list[Outcome]:
    """`config` and `up --dry-run` on a mutated project (the engine root is empty: nothing is made)."""
    environ = dict(mutant.environ, STACKUP_ROOT=str(root))
    return [run_bounded(argv, mutant.project, environ)
            for argv in (mutant.argv, global_flags(mutant.argv) + ["up", "--dry-run"])]
