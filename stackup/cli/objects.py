"""What `stackup network` and `stackup volume` share: `--filter` and `KEY=VALUE` options,
`ls` as a table or as names (-q), `rm` of several objects with one line per failure,
`prune` after a prompt. Objects are the engine's dicts, with at least "name" and "labels"."""

from __future__ import annotations

from collections.abc import Callable

import typer

from stackup.cli.table import print_table
from stackup.errors import StackupError, UserError


def parse_filters(filters: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """`label=k[=v]` filters as a dict, `name=x` filters as a list."""
    labels: dict[str, str | None] = {}
    names: list[str] = []
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep or not value:
            raise UserError(f"--filter {f!r}: expected label=KEY[=VALUE] or name=NAME")
        if key == "label":
            k, eq, v = value.partition("=")
            labels[k] = v if eq else None
        elif key == "name":
            names.append(value)
        else:
            raise UserError(f"--filter {f!r}: unknown filter {key!r} (label, name)")
    return labels, names


def pairs(items: list[str], what: str, need_equals: bool = False) -> dict[str, str]:
    """`--label`/`--opt`/`--sysctl` values (KEY=VALUE, VALUE may be empty) as a dict; a
    lone KEY means an empty VALUE unless `need_equals`."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or (need_equals and not sep):
            raise UserError(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def show_list(list_objects: Callable[[], list[dict]], filters: list[str], quiet: bool,
              header: tuple[str, ...], row: Callable[[dict], tuple[str, ...]], fmt: str = "table",
              as_row: Callable[[dict], dict] | None = None) -> None:
    """`ls`: the objects every label filter and any name filter (a substring) match; `fmt`
    as `--format` takes it, `as_row` giving an object's fields for JSON and templates."""
    from stackup.cli import formatting, gotemplate
    from stackup.engine.network.store import labels_match

    labels, names = parse_filters(filters)  # bad filters fail before anything is read
    if fmt.strip() not in ("", "table", "json"):
        gotemplate.parse(fmt)
    shown = [o for o in list_objects() if labels_match(o.get("labels", {}), labels)
             and (not names or any(x in o["name"] for x in names))]
    if quiet:
        for o in shown:
            typer.echo(o["name"])
        return
    formatting.render(fmt, [as_row(o) if as_row else o for o in shown],
                      lambda: print_table([header] + [row(o) for o in shown]))


def inspect_each(names: list[str], document: Callable[[str], dict], fmt: str | None) -> None:
    """`inspect`: the documents of the objects found (Docker's JSON, or `-f TEMPLATE` each),
    then one line per name not found."""
    from stackup.cli import formatting, gotemplate

    if fmt and fmt.strip() != "json":
        gotemplate.parse(fmt)
    found, problems = [], []
    for name in names:
        try:
            found.append(document(name))
        except StackupError as exc:
            problems += exc.lines()
    formatting.inspect(fmt, found)
    if problems:
        raise UserError(problems[0], problems=problems)


def remove_each(names: list[str], remove: Callable[[str], object]) -> None:
    """`rm`: tries every name, echoes those removed, then reports all failures at once."""
    problems: list[str] = []
    for name in names:
        try:
            remove(name)
            typer.echo(name)
        except StackupError as exc:
            problems += exc.lines()
    if problems:
        raise UserError(problems[0], problems=problems)


def prune_after_prompt(filters: list[str], force: bool, question: str,
                       prune: Callable[[dict[str, str | None]], list[str]], heading: str) -> None:
    """`prune` (label filters only): asks `question` unless `force`, prints what went."""
    labels, names = parse_filters(filters)
    if names:
        raise UserError("--filter name= is not supported by prune")
    if not force and not typer.confirm(question):
        return
    removed = prune(labels)
    if removed:
        typer.echo(heading)
        for name in removed:
            typer.echo(name)
