"""The committed JSON schema matches the models, and checks real stack files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from stackup.stackfile.schema import schema_text
from stackup.stackfile.yamlpos import load_documents
from stackup.testing.corpus import CONFORMANCE_CASES

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "schemas" / "stackup.schema.json"
CASES = CONFORMANCE_CASES
LOCAL = Path(__file__).with_name("cases")


def _structurally_invalid(case: Path) -> bool:
    """The reference rejected it while checking its schema (not its values or references)."""
    error = case / "expected.error"
    return error.exists() and error.read_text().startswith("validating ")


def test_committed_schema_matches_the_models():
    text = schema_text()
    assert SCHEMA.read_text() == text, "run `stackup schema` and commit schemas/stackup.schema.json"
    # the package's copy is what `config` checks files against (stackup/stackfile/shape.py)
    assert (ROOT / "stackup" / "stackfile" / "stackup.schema.json").read_text() == text


def _stack_files(case: Path) -> list[Path]:
    cmd = (case / "cmd").read_text().split()
    files = [case / cmd[i + 1].strip("'") for i, a in enumerate(cmd) if a == "-f"]
    if not files:
        files = [p for p in (case / n for n in ("compose.yaml", "compose.yml", "docker-compose.yml")) if p.exists()]
    return [f for f in files if f.exists()]


def _cases(valid: bool):
    out = []
    for root in (CASES, LOCAL):
        for case in sorted(root.iterdir()) if root.is_dir() else []:
            if valid and (case / "expected.json").exists():
                out.append(case)
            if not valid and _structurally_invalid(case):
                out.append(case)
    return out


def _validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


@pytest.mark.parametrize("case", _cases(valid=True), ids=lambda p: p.name)
def test_valid_case_files_pass_the_schema(case):
    validator = _validator()
    for path in _stack_files(case):
        for document in load_documents(path.read_text(), path.name):
            errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(document.value)))]
            assert not errors, f"{path.name}: {errors[:3]}"


@pytest.mark.parametrize("case", _cases(valid=False), ids=lambda p: p.name)
def test_structurally_invalid_case_files_fail_the_schema(case):
    """The editors' schema refuses them, or else the checks `config` adds to it (a null where
    compose wants a value, the models being Optional; cgroup and pull_policy values)."""
    from stackup.stackfile.problems import Problems
    from stackup.stackfile.shape import validate_file

    validator = _validator()
    errors: list = []
    problems = Problems()
    for path in _stack_files(case):
        for document in load_documents(path.read_text(), path.name):
            errors += list(validator.iter_errors(json.loads(json.dumps(document.value))))
            validate_file(document.value, path.name, problems)
    assert errors or problems


@pytest.mark.parametrize("sample", sorted((ROOT / "samples").glob("*/compose.yaml")), ids=lambda p: p.parent.name)
def test_samples_pass_the_schema_and_load(sample):
    from stackup.stackfile import LoadOptions, load_project

    document = load_documents(sample.read_text(), sample.name)[0].value
    assert not [e.message for e in _validator().iter_errors(json.loads(json.dumps(document)))]
    assert load_project(LoadOptions(files=[str(sample)]), {}).services
