"""Golden pictures: `stackup graph` output for known projects, compared byte for byte.

Each `golden/<name>.json` is a normalized project (most are conformance expected.json
files); `<name>.txt`, `<name>.mmd` and `<name>.dot` are its text, mermaid and dot
pictures. After an intended change of the pictures, regenerate them with
`STACKUP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/graph/test_graph_golden.py`
and review the diff.
"""

import json
import os
from pathlib import Path

import pytest

from stackup.cli.graph import render

GOLDEN = Path(__file__).parent / "golden"
EXTENSIONS = {"text": ".txt", "mermaid": ".mmd", "dot": ".dot"}
UPDATE = os.environ.get("STACKUP_UPDATE_GOLDEN") == "1"
PROJECTS = sorted(p.stem for p in GOLDEN.glob("*.json"))


def test_there_are_golden_projects():
    assert len(PROJECTS) >= 5


@pytest.mark.parametrize("fmt", sorted(EXTENSIONS))
@pytest.mark.parametrize("name", PROJECTS)
def test_picture_matches_golden(name, fmt):
    project = json.loads((GOLDEN / f"{name}.json").read_text())
    expected_file = GOLDEN / f"{name}{EXTENSIONS[fmt]}"
    actual = render(project, fmt)
    if UPDATE:
        expected_file.write_text(actual)
    assert expected_file.exists(), f"missing {expected_file.name}: run with STACKUP_UPDATE_GOLDEN=1"
    assert actual == expected_file.read_text()
