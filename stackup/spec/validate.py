"""Structural checks of one stack file with the pydantic models, reported in the user's terms.

pydantic's error locations include union members (`str`, `list[str]`, ...); they are
mapped back to the path the user wrote (`services.web.ports[0]`) and to its position.
"""

from __future__ import annotations

import difflib
from typing import Any

from stackup.spec import pathmatch
from stackup.spec.problems import Problems
from stackup.spec.yamlpos import position_of


def validate_file(tree: Any, filename: str, problems: Problems) -> None:
    from pydantic import ValidationError

    from stackup.spec.models import ComposeFile

    services = tree.get("services") if isinstance(tree, dict) else None
    if isinstance(services, dict):
        for name, service in services.items():
            if not isinstance(service, dict):
                problems.add("must be a mapping (a service needs at least `image:` or `build:`)",
                             ("services", name), tree=tree)
        if problems:
            return
    try:
        ComposeFile.model_validate(tree)
    except ValidationError as exc:
        report(exc, tree, problems)


def user_path(tree: Any, loc: tuple) -> tuple:
    """The part of a pydantic location that names nodes of the user's tree."""
    node = tree
    path: list = []
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(str(part))
    return tuple(path)


def report(exc, tree: Any, problems: Problems) -> None:
    grouped: dict[tuple, list[dict]] = {}
    for error in exc.errors(include_url=False):
        path = user_path(tree, tuple(error["loc"]))
        grouped.setdefault(path, []).append(error)
    # a union reports every member; keep the deepest paths and merge the messages
    for path, errors in grouped.items():
        if any(other[:len(path)] == path and len(other) > len(path) for other in grouped):
            continue
        extra = [e for e in errors if e["type"] == "extra_forbidden"]
        if extra:
            problems.add(_unknown_key(path), path, tree=tree, pos=position_of(tree, path, key=True))
            continue
        problems.add(_message(errors, tree, path), path, tree=tree)


def _unknown_key(path: tuple) -> str:
    from stackup.spec.models import MODELS_BY_PATH

    key = path[-1]
    parent = path[:-1]
    fields: list[str] = []
    for pattern, model in MODELS_BY_PATH:
        if pathmatch.matches(parent, pattern):
            fields = list(model.model_fields)
            break
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    hint = f" (did you mean \"{close[0]}\"?)" if close else ""
    return f"unknown attribute \"{key}\"{hint}"


def _message(errors: list[dict], tree: Any, path: tuple) -> str:
    values = [e for e in errors if e["type"] == "value_error"]
    if values:
        return str(values[0]["msg"]).removeprefix("Value error, ")
    wanted = []
    for error in errors:
        msg = str(error["msg"])
        if msg.startswith("Input should be "):
            msg = msg[len("Input should be "):].replace("a valid ", "a ")
        if error["type"] == "missing":
            msg = f"is required ({'.'.join(map(str, error['loc'][-1:]))})"
        if msg not in wanted:
            wanted.append(msg)
    value = _value_at(tree, path)
    shown = _show(value)
    return f"{shown} is not valid here: expected " + " or ".join(wanted) if len(wanted) > 1 or shown \
        else wanted[0]


def _value_at(tree: Any, path: tuple) -> Any:
    node = tree
    for part in path:
        node = node[part] if isinstance(node, dict) else node[int(part)]
    return node


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    if value is None:
        return "null"
    text = str(value)
    if value is True or value is False:
        text = text.lower()
    return f"\"{text}\"" if len(text) < 60 else f"\"{text[:57]}...\""
