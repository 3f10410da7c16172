#!/usr/bin/env python3
"""The fault-injection soak: many more kills than the test tier's (tests/faults).

Each trial readies tests/faults' 5-service stack, SIGKILLs the CLI's process group at a
random moment of a command (up -d, down, down -v, a recreating up -d, run --rm, and pull
from a local registry when docker-registry is installed), then
checks that `up -d` converges and that `down -v` leaves nothing. Trials are drawn from
the seed (printed; pass it again to replay a failure) and run in one STACKUP_ROOT of
their own. The summary counts, per command, the trials that recovered and lists the
failures with their seed and delay.

Run (as root): .venv/bin/python bench/faults_soak.py [--trials N] [--seed S]
               [--commands up,down,...] [--keep-going]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stackup.testing.faults import COMMANDS, STACK_DIR, TESTS_STACK, FaultTrials  # noqa: E402
from stackup.testing.registry import REGISTRY_BIN, LocalRegistry  # noqa: E402
from stackup.testing.stack import BUSYBOX_REF, StackupCLI, free_port  # noqa: E402

KNOWN = sorted([*COMMANDS, "pull"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="trials per command (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="replay this seed")
    default = KNOWN if REGISTRY_BIN.exists() else sorted(COMMANDS)
    parser.add_argument("--commands", default=",".join(default),
                        help=f"which commands to kill (default: {','.join(default)})")
    parser.add_argument("--keep-going", action="store_true", help="go on after a failure (default: stop)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    commands = [c for c in args.commands.split(",") if c]
    unknown = sorted(set(commands) - set(KNOWN))
    if unknown:
        parser.error(f"unknown commands: {', '.join(unknown)}")
    print(f"seed {seed}: {args.trials} trial(s) of {', '.join(commands)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="stackup-soak-") as tmp, contextlib.ExitStack() as stack:
        cli = StackupCLI(Path(tmp) / "root", STACK_DIR, env={"PORT": str(free_port())})
        cli.import_busybox(Path(tmp))
        if "pull" in commands:   # the stack's image comes from a registry of its own
            registry = stack.enter_context(LocalRegistry(Path(tmp) / "registry", auth="none"))
            cli.env["IMAGE"] = f"{registry.host}/faults/busybox:1"
            cli("image", "tag", BUSYBOX_REF, cli.env["IMAGE"])
            cli("image", "push", cli.env["IMAGE"])
        trials = FaultTrials(cli, TESTS_STACK, seed, log=lambda line: print(line, flush=True))
        recovered: Counter[str] = Counter()
        failures: list[str] = []
        started = time.monotonic()
        try:
            trials.measure()
            trials.take_down()
            if "pull" in commands:
                trials.measure_pull()
            for index in range(args.trials):
                for command in commands:
                    trials.reseed(command, index)
                    try:
                        trials.trial(command)
                        recovered[command] += 1
                    except AssertionError as exc:
                        failures.append(f"trial {index} of {command}: {exc}")
                        print(f"FAILED: {failures[-1]}", flush=True)
                        cli.cleanup()   # a clean root for the next trial
                        cli.import_busybox(Path(tmp))
                        if "IMAGE" in cli.env:
                            cli("image", "tag", BUSYBOX_REF, cli.env["IMAGE"])
                        if not args.keep_going:
                            raise SystemExit(1) from None
        except Exception:
            traceback.print_exc()
            failures.append("the soak itself failed (see above)")
        finally:
            cli.cleanup()
            print(f"\nseed {seed}, {time.monotonic() - started:.0f}s:")
            for command in commands:
                print(f"  {command:10} {recovered[command]}/{args.trials} recovered with nothing left")
            for failure in failures:
                print(f"  {failure.splitlines()[0]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
