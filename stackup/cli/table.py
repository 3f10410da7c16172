"""The one way the CLI prints a table: left-aligned columns three spaces apart."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(rows: Sequence[Sequence[object]]) -> None:
    """Rows (the header first) to stdout; cells are shown with str(), trailing blanks cut."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
