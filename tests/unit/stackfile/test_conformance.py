"""Every case of the compose conformance corpus, against stackup's loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.stackfile import conformance

GAPS_FILE = Path(__file__).resolve().parents[2] / "known_gaps_conformance.txt"
CASES = conformance.cases()


def known_gaps() -> dict[str, str]:
    gaps = {}
    for line in GAPS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            gaps[name] = reason
    return gaps


def outcome(name: str, root: Path = conformance.CORPUS) -> tuple[bool, str]:
    expected, actual = conformance.run(name, root)
    if isinstance(expected, tuple):  # an invalid file: any rejection will do
        return isinstance(actual, tuple), "accepted a file the reference rejects"
    if isinstance(actual, tuple):
        return False, f"rejected: {actual[1]}"
    return expected == actual, "output differs from expected.json"


@pytest.mark.skipif(not CASES, reason="conformance corpus not present")
@pytest.mark.parametrize("name", CASES)
def test_case(name):
    passed, why = outcome(name)
    gaps = known_gaps()
    if name in gaps:
        if passed:
            pytest.xfail(f"{name} passes now: remove it from {GAPS_FILE.name}")
        pytest.xfail(gaps[name])
    assert passed, f"{name}: {why}"


@pytest.mark.parametrize("name", conformance.cases(conformance.LOCAL))
def test_local_case(name):
    """Our own files, with the reference's output: these must all pass."""
    passed, why = outcome(name, conformance.LOCAL)
    assert passed, f"{name}: {why}"


@pytest.mark.skipif(not CASES, reason="conformance corpus not present")
def test_at_least_90_cases_pass_and_gaps_are_listed():
    gaps = known_gaps()
    assert len(CASES) - len(gaps) >= 90
    assert set(gaps) <= set(CASES), "known gaps name cases that do not exist"


def test_models_accept_the_normalized_output_of_every_valid_case():
    """`Project.services` etc. are pydantic models built from the normalized dict."""
    import os

    from stackup.stackfile import load_project

    for name in CASES:
        case = conformance.CORPUS / name
        if not (case / "expected.json").exists():
            continue
        import shlex
        opts = conformance.parse_cmd(shlex.split((case / "cmd").read_text()))
        old = os.getcwd()
        os.chdir(case)
        try:
            project = load_project(opts, conformance.environ_of(case), cwd=case)
            assert set(project.services) == set(project.to_dict()["services"])
            _ = project.networks, project.volumes, project.secrets, project.configs  # they build
        finally:
            os.chdir(old)


def test_yaml_shape_matches_expected_yaml_of_every_valid_case():
    """`config --format yaml` keeps what compose's YAML keeps (service x-*, models)."""
    import json
    import os
    import shlex

    from stackup.stackfile import load_project
    from stackup.stackfile.yamlpos import load_documents

    failures = []
    every = [conformance.CORPUS / n for n in CASES] + [conformance.LOCAL / n for n in conformance.cases(conformance.LOCAL)]
    for case in every:
        name = case.name
        if not (case / "expected.yaml").exists():
            continue
        expected = load_documents((case / "expected.yaml").read_text(), "expected.yaml")[0].value
        opts = conformance.parse_cmd(shlex.split((case / "cmd").read_text()))
        old = os.getcwd()
        os.chdir(case)
        try:
            project = load_project(opts, conformance.environ_of(case), cwd=case)
        finally:
            os.chdir(old)
        actual = json.dumps(project.to_dict(escape_dollars=True, for_yaml=True)).replace(str(case), "__CASE_DIR__")
        if conformance.clean(json.loads(actual)) != conformance.clean(json.loads(json.dumps(expected))):
            failures.append(name)
    assert not failures


@pytest.mark.parametrize("name", [n for n in conformance.cases(conformance.LOCAL)
                                  if (conformance.LOCAL / n / "expected.json").exists()])
def test_local_case_json_text_is_what_compose_prints(name):
    """Byte for byte: key order, string escapes (Go's `\\u0026`), indentation.

    (The corpus's expected.json files were re-indented by another JSON encoder, so only the
    local cases, kept as the reference printed them, are compared as text.)
    """
    case = conformance.LOCAL / name
    code, out, _ = conformance.run_cli(case)
    assert code == 0
    assert out.replace(str(case), "__CASE_DIR__").strip() == (case / "expected.json").read_text().strip()
