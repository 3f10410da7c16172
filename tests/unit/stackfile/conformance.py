"""Runs one case of the compose conformance corpus through stackup's loader."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from stackup.testing.corpus import CONFORMANCE_CASES


CORPUS = CONFORMANCE_CASES
# more cases in the same layout, made with the reference (docker compose v2.40.3) on our own files
LOCAL = Path(__file__).with_name("cases")


def cases(root: Path = CORPUS) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def parse_cmd(args: list[str]):
    from stackup.stackfile.options import LoadOptions

    opts = LoadOptions()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-f", "--file"):
            opts.files.append(args[i + 1]); i += 2; continue
        if arg in ("-p", "--project-name"):
            opts.project_name = args[i + 1]; i += 2; continue
        if arg == "--project-directory":
            opts.project_directory = args[i + 1]; i += 2; continue
        if arg == "--env-file":
            opts.env_files.append(args[i + 1]); i += 2; continue
        if arg == "--profile":
            opts.profiles.append(args[i + 1]); i += 2; continue
        if arg == "--no-consistency":
            opts.consistency = False
        if arg == "--no-interpolate":
            opts.interpolate = False
        i += 1
    return opts


def environ_of(case: Path) -> dict[str, str]:
    env = {"HOME": "/home/conformance", "PATH": "/usr/local/bin:/usr/bin:/bin"}
    path = case / "environ"
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line:
                key, _, value = line.partition("=")
                env[key] = value
    return env


def clean(value):
    """Drop nulls and empty mappings, recursively (as the corpus comparison asks)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = clean(item)
            if item is None or item == {}:
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def run_cli(case: Path) -> tuple[int, str, str]:
    """`stackup <cmd>` run in the case folder with exactly the case's environment."""
    import contextlib
    import io

    from stackup.cli.main import main

    args = shlex.split((case / "cmd").read_text())
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(environ_of(case))
        os.chdir(case)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return code, out.getvalue(), err.getvalue()


def run(name: str, root: Path = CORPUS):
    """(expected, actual) dicts for a valid case, or ("error", message|None) for an invalid one.

    The case's `cmd` is run through stackup's own command line.
    """
    case = root / name
    code, out, err = run_cli(case)
    if code == 0:
        actual, error = json.loads(out), None
    else:
        assert code == 2, f"{name}: exit code {code}: {err}"  # a user error, never a crash
        assert "Traceback" not in err and "internal error" not in err, err
        actual, error = None, err
    if (case / "expected.json").exists():
        expected = json.loads((case / "expected.json").read_text())
        if actual is None:
            return clean(expected), ("rejected", error)
        text = json.dumps(actual).replace(str(case), "__CASE_DIR__")
        return clean(expected), clean(json.loads(text))
    return ("error", (case / "expected.error").read_text()), ("rejected", error) if actual is None else clean(actual)
