"""The stack file: loading, validation and normalization (pure: no side effects, no root).

Public API: `load_project(options, environ=None) -> Project`, `LoadOptions`,
`unsupported_attributes(desired)` and `check_supported(desired)` (raises UnsupportedError),
from the table of what stackup can run (`support.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from stackup.stackfile.options import LoadOptions
    from stackup.stackfile.project import Project, load_project

__all__ = ["LoadOptions", "Project", "check_supported", "load_project", "unsupported_attributes"]


def __getattr__(name: str) -> Any:
    if name == "LoadOptions":
        from stackup.stackfile.options import LoadOptions
        return LoadOptions
    if name in ("Project", "load_project"):
        from stackup.stackfile import project
        return getattr(project, name)
    if name in ("unsupported_attributes", "check_supported"):
        from stackup.stackfile import support
        return getattr(support, name)
    raise AttributeError(name)
