"""Structural checks of one stack file (filled in by the pydantic models)."""

from __future__ import annotations

from typing import Any

from stackup.spec.problems import Problems


def validate_file(tree: Any, filename: str, problems: Problems) -> None:
    from stackup.spec.models import check_tree
    check_tree(tree, filename, problems)
