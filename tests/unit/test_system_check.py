"""`stackup system check` on a root without kernel objects: what it lists, that a dry run
changes nothing, that the repair leaves a consistent root (a second check finds nothing),
and the exit status convention (0 consistent, 1 found)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from stackup.cli import system
from stackup.engine import check
from stackup.engine.runtime.container import Runtime

GONE = "e" * 64        # removed: only its port record is left
CUT = "d" * 64         # its removal was cut short


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    root = tmp_path / "root"
    (root / "volumes" / "v1" / "_data").mkdir(parents=True)
    (root / "volumes" / "v1" / "meta.json").write_text('{"name": "v1"')      # cut short
    (root / "ports").mkdir()
    (root / "ports" / f"{GONE}.json").write_text(json.dumps({"pid": None, "bindings": []}))
    (root / "containers" / CUT / "upper").mkdir(parents=True)
    (root / "containers" / CUT / "removing").touch()
    return root


def rt() -> Runtime:
    return Runtime(wirings=[])  # no network engine: these containers had none


def test_it_lists_each_problem_and_a_repair_leaves_nothing_to_find(root):
    found = [f.problem for f in check.findings(rt())]
    assert [line.split(" (")[0] for line in found] == [
        f"{root}/containers/{CUT}: the removal of a container was cut short",
        f"{root}/volumes/v1/meta.json: damaged",
        f"{root}/ports/{GONE}.json: the port record of a removed container",
    ]
    assert "(not JSON: Expecting ',' delimiter" in found[1]
    for finding in check.findings(rt()):
        finding.repair()
    assert check.findings(rt()) == []
    assert not (root / "containers" / CUT).exists()
    assert (root / "volumes" / "v1" / "meta.json.damaged").exists()
    assert (root / "volumes" / "v1" / "_data").is_dir(), "the data is kept"
    assert not (root / "ports" / f"{GONE}.json").exists()


def test_the_command_exits_1_when_it_found_something_and_0_once_consistent(root, monkeypatch):
    monkeypatch.setattr(check, "Runtime", rt)
    runner = CliRunner()
    app = typer.Typer()
    system.register(app)
    dry = runner.invoke(app, ["system", "check", "--dry-run"])
    assert dry.exit_code == 1 and "3 problem(s) found, would be repaired (--dry-run)" in dry.output
    assert (root / "volumes" / "v1" / "meta.json").exists(), "a dry run changes nothing"
    fixed = runner.invoke(app, ["system", "check"])
    assert fixed.exit_code == 1 and "3 problem(s) found, repaired" in fixed.output
    clean = runner.invoke(app, ["system", "check"])
    assert (clean.exit_code, clean.output) == (0, "the engine's state is consistent\n")
