"""Soak run of the stack-file fuzz: N mutated projects through `config` and `up --dry-run`.

The unit test runs a few dozen fixed examples; this runs as many as asked. Each trial is made
from its own seed (the first seed plus its index), printed with any failure so that it can be
replayed alone. Every run is bounded (memory and time, see tests/unit/stackfile/hostile.py).

Run: .venv/bin/python bench/spec_fuzz.py [COUNT [FIRST_SEED]]
     .venv/bin/python bench/spec_fuzz.py --replay SEED     (the mutation, and both runs' output)
Exit status 1 when a run failed: a traceback, an internal error, an exit code other than 0, 1
or 2, or a run past its deadline or its memory limit.
"""

from __future__ import annotations

import collections
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.stackfile import hostile  # noqa: E402 - after the path is set


def trial(seed: int, tmp: Path) -> tuple[hostile.Mutant, list[hostile.Outcome]]:
    rng = random.Random(seed)
    mutant = hostile.mutate(rng.choice(hostile.seed_projects()), tmp, rng)
    return mutant, hostile.run_both(mutant, tmp / "root")


def soak(count: int, first: int) -> int:
    codes: collections.Counter = collections.Counter()
    failures = []
    slowest, largest = 0.0, 0
    for seed in range(first, first + count):
        with tempfile.TemporaryDirectory(prefix="stk-fuzz-") as tmp:
            mutant, outcomes = trial(seed, Path(tmp))
        for outcome in outcomes:
            codes[outcome.code] += 1
            slowest, largest = max(slowest, outcome.seconds), max(largest, outcome.grew_kb)
            problem = outcome.problem()
            if problem:
                failures.append(seed)
                print(f"seed {seed}: {mutant.project.name}: {'; '.join(mutant.changes)}: "
                      f"{' '.join(outcome.argv)}: {problem}", flush=True)
        if (seed - first + 1) % 100 == 0:
            print(f"... {seed - first + 1} trials", flush=True)
    print(f"{count} trials, {sum(codes.values())} runs: exit codes "
          + ", ".join(f"{code}: {n}" for code, n in sorted(codes.items(), key=str)))
    print(f"slowest run {slowest:.1f} s, largest growth {largest / 1024:.0f} MiB, "
          f"failures {len(failures)}" + (f" (seeds {sorted(set(failures))})" if failures else ""))
    return 1 if failures else 0


def replay(seed: int) -> int:
    """One trial again, its mutated project left in place to look at."""
    mutant, outcomes = trial(seed, Path(tempfile.mkdtemp(prefix="stk-fuzz-")))
    print(f"seed {seed}: {mutant.project.name}: {'; '.join(mutant.changes)}")
    print(f"the mutated project (remove it when done): {mutant.project}")
    for outcome in outcomes:
        print(f"$ stackup {' '.join(outcome.argv)}  -> exit {outcome.code}, {outcome.seconds:.2f} s, "
              f"+{outcome.grew_kb / 1024:.0f} MiB")
        print(outcome.err.rstrip()[:2000])
    return 1 if any(o.problem() for o in outcomes) else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--replay"] and len(argv) == 2:
        return replay(int(argv[1]))
    count = int(argv[0]) if argv else 500
    first = int(argv[1]) if len(argv) > 1 else 0
    return soak(count, first)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
