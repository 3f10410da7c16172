"""The committed JSON schema matches the models, and checks real stack files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from stackup.spec.schema import schema_text
from stackup.spec.yamlpos import load_documents

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "schemas" / "stackup.schema.json"
CASES = Path("/work/shared/conformance/cases")
# the reference rejects these for their structure (not their values or references)
STRUCTURALLY_INVALID = {"e2e-wrong-field", "spec-pre-start-not-in-schema", "cg-extends-base-nil-service"}


def test_committed_schema_matches_the_models():
    text = schema_text()
    assert SCHEMA.read_text() == text, "run `stackup schema` and commit schemas/stackup.schema.json"
    # the package's copy is what `config` checks files against (stackup/spec/shape.py)
    assert (ROOT / "stackup" / "spec" / "stackup.schema.json").read_text() == text


def _stack_files(case: Path) -> list[Path]:
    cmd = (case / "cmd").read_text().split()
    files = [case / cmd[i + 1].strip("'") for i, a in enumerate(cmd) if a == "-f"]
    if not files:
        files = [p for p in (case / n for n in ("compose.yaml", "compose.yml", "docker-compose.yml")) if p.exists()]
    return [f for f in files if f.exists()]


def _cases(valid: bool):
    if not CASES.is_dir():
        return []
    out = []
    for case in sorted(CASES.iterdir()):
        if valid and (case / "expected.json").exists():
            out.append(case.name)
        if not valid and case.name in STRUCTURALLY_INVALID:
            out.append(case.name)
    return out


def _validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


@pytest.mark.parametrize("name", _cases(valid=True))
def test_valid_case_files_pass_the_schema(name):
    validator = _validator()
    for path in _stack_files(CASES / name):
        for document in load_documents(path.read_text(), path.name):
            errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(document.value)))]
            assert not errors, f"{path.name}: {errors[:3]}"


@pytest.mark.parametrize("name", _cases(valid=False))
def test_structurally_invalid_case_files_fail_the_schema(name):
    validator = _validator()
    errors = []
    for path in _stack_files(CASES / name):
        for document in load_documents(path.read_text(), path.name):
            errors += list(validator.iter_errors(json.loads(json.dumps(document.value))))
    assert errors
