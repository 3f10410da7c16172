"""`--format` as Docker's CLI reads it: `table` (the command's own table), `json`,
`table TEMPLATE` (a header, then columns split at tabs and aligned as Go's tabwriter
aligns them) or a Go TEMPLATE run once per object, each followed by a line break.
`\\t` and `\\n` written in the format are a tab and a line break, as in Docker."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stackup.cli import gotemplate
from stackup.cli.shapes import go_json, public

# Header words Docker gives fields whose column is not simply the field's name in capitals.
HEADERS = {
    "ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED",
    "LocalVolumes": "LOCAL VOLUMES", "ExitCode": "EXIT CODE", "ConfigFiles": "CONFIG FILES",
    "ContainerName": "CONTAINER", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
    "PIDs": "PIDS", "IPv6": "IPV6", "IPv4": "IPV4",
}


def header_of(field: str, headers: Mapping[str, str] | None = None) -> str:
    """`RunningFor` -> `CREATED`; else the field's words in capitals (`Mountpoint` -> `MOUNTPOINT`)."""
    merged = {**HEADERS, **(headers or {})}
    if field in merged:
        return merged[field]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", field).upper()


def _unescape(text: str) -> str:
    return text.replace("\\t", "\t").replace("\\n", "\n")


def tabwriter(lines: Sequence[str], minwidth: int = 10, padding: int = 3) -> str:
    """Go's tabwriter as Docker sets it up: each tab-ended cell padded to its column's
    widest cell plus `padding` (at least `minwidth`); a line's last cell is left as it is."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, 0), max(minwidth, len(cell) + padding))
    return "".join("".join(c.ljust(widths[i]) for i, c in enumerate(cells[:-1])) + cells[-1] + "\n"
                   for cells in rows)


def _header_struct(sample: Mapping[str, Any], headers: Mapping[str, str] | None) -> gotemplate.Struct:
    def column(name: str) -> Any:
        text = header_of(name, headers)
        return (lambda *_: text) if callable(sample.get(name)) else text
    return gotemplate.Struct({name: column(name) for name in sample})


def render(fmt: str, rows: Sequence[Mapping[str, Any]], table: Callable[[], None], *,
           json_lines: bool = True, headers: Mapping[str, str] | None = None,
           fields: Sequence[str] = ()) -> None:
    """Print `rows` as `fmt` asks; `table` prints the command's own table. `json`: one
    object per line (Docker's list commands) or, without `json_lines`, one array
    (compose's ls and images). `fields`: the names a header may use when there are no
    rows to take them from."""
    spec = fmt.strip()
    if spec in ("", "table"):
        table()
        return
    if spec == "json":
        if json_lines:
            for row in rows:
                print(go_json(public(row)))
        else:
            print(go_json([public(row) for row in rows]))
        return
    is_table = spec.startswith("table ") or spec.startswith("table\t")
    template = gotemplate.parse(_unescape(spec[6:].strip() if is_table else spec))
    out = [template.render(row) for row in rows]
    if is_table:
        sample = rows[0] if rows else dict.fromkeys(fields, "")
        head = template.render(_header_struct(sample, headers))
        print(tabwriter((head + "\n" + "".join(line + "\n" for line in out)).rstrip("\n").split("\n")),
              end="")
        return
    for text in out:
        print(text)


def inspect(fmt: str | None, documents: Sequence[Any]) -> None:
    """`inspect`: the documents as Docker's indented JSON array, or `-f TEMPLATE` once each."""
    if not fmt or fmt.strip() == "json":
        print(go_json(list(documents), indent=4) if documents else "[]")
        return
    template = gotemplate.parse(_unescape(fmt))
    for doc in documents:
        print(template.render(doc))
