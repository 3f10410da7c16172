"""Fast structural checks of a stack file against the schema generated from the models.

Building the pydantic models costs ~200 ms per process, more than loading a 50-service
stack; `stackup config` therefore checks files against `stackup.schema.json` (the
committed output of `stackup schema`, which a test keeps equal to the models) with this
small validator of the JSON-schema subset pydantic emits. Problems are reported with the
user's attribute path, and `unknown attribute` errors suggest the closest valid name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from stackup.stackfile import pathmatch
from stackup.stackfile.problems import Problems
from stackup.stackfile.yamlpos import position_of

SCHEMA_FILE = Path(__file__).with_name("stackup.schema.json")


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text())


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
_NAMES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
          "number": "a number", "boolean": "a boolean", "null": "null"}


class Issue:
    __slots__ = ("path", "message", "key")

    def __init__(self, path: tuple, message: str, key: bool = False):
        self.path = path
        self.message = message
        self.key = key


def _check_port(value: Any) -> str | None:
    from stackup.shortsyntax import SyntaxProblem, parse_ports

    if isinstance(value, int) and not isinstance(value, bool):
        return None if 0 <= value <= 65535 else f"\"{value}\" is not a valid port (1-65535)"
    if isinstance(value, str) and "$" not in value:  # `${PORT}:80` when not interpolating
        try:
            parse_ports(value)
        except SyntaxProblem as exc:
            return str(exc)
    return None


def _check_port_number(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= 65535:
        return f"\"{value}\" is not a valid port (1-65535)"
    return None


def _check_cgroup(value: Any) -> str | None:
    if isinstance(value, str) and "$" not in value and value not in ("host", "private"):
        return f"{_show(value)} is not valid here: expected one of host, private"
    return None


# compose's schema pattern (unanchored, as JSON schema patterns are)
_PULL_POLICY = re.compile(r"always|never|build|if_not_present|missing|refresh|daily|weekly|every_[0-9]+[wdhms]")


def _check_pull_policy(value: Any) -> str | None:
    if isinstance(value, str) and "$" not in value and not _PULL_POLICY.search(value):
        return (f"{_show(value)} is not valid here: expected always, never, missing, build, refresh, "
                "daily, weekly or every_<N><w|d|h|m|s>")
    return None


# checks the schema cannot express (pydantic validators in the models do the same), and
# values compose's schema restricts more than the models do
HOOKS = pathmatch.compile_table({
    "services.*.cgroup": _check_cgroup,
    "services.*.pull_policy": _check_pull_policy,
    "services.*.ports.[]": _check_port,
    "services.*.ports.[].target": _check_port_number,
    "services.*.ports.[].published": _check_port_number,
})


# where compose's schema lets a value be null (`include` is taken out before the schema sees it) (elsewhere `key: null` is refused, as compose
# refuses it; `!reset` is how an override file unsets an attribute). Its schema allows `pid: null`,
# but its loader then fails on it, so it is refused here too.
NULL_ALLOWED = pathmatch.compile_table({pattern: True for pattern in (
    "services.*.command", "services.*.entrypoint", "services.*.deploy", "services.*.develop",
    "services.*.networks.*", "services.*.models.*",
    "services.*.environment.*", "services.*.labels.*", "services.*.annotations.*", "services.*.sysctls.*",
    "services.*.logging.options.*", "services.*.deploy.labels.*",
    "services.*.deploy.resources.reservations.devices.[].options.*", "services.*.gpus.[].options.*",
    "services.*.build.args.*", "services.*.build.ssh.*", "services.*.build.labels.*",
    "services.*.build.additional_contexts.*", "services.*.volumes.[].volume.labels.*",
    "services.*.develop.watch.[].exec.command", "services.*.develop.watch.[].exec.environment.*",
    "services.*.post_start.[].command", "services.*.post_start.[].environment.*",
    "services.*.pre_stop.[].command", "services.*.pre_stop.[].environment.*",
    "include", "networks.*", "networks.*.labels.*", "volumes.*", "volumes.*.labels.*",
    "secrets.*.labels.*", "configs.*.labels.*",
)})


def misplaced_nulls(value: Any, path: tuple = ()) -> list[Issue]:
    """`key: null` where compose's schema wants a value (extensions, `x-*`, take anything)."""
    if value is None:
        if path and pathmatch.lookup(NULL_ALLOWED, path) is None:
            return [Issue(path, "null is not valid here: give a value, or leave the attribute out "
                                "(`!reset` unsets it in an override file)")]
        return []
    issues: list[Issue] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not str(key).startswith("x-"):
                issues += misplaced_nulls(item, path + (str(key),))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            issues += misplaced_nulls(item, path + (str(index),))
    return issues


class Validator:
    def __init__(self, root: dict):
        self.root = root
        self.defs = root.get("$defs", {})

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def check(self, value: Any, node: dict, path: tuple) -> list[Issue]:
        node = self.resolve(node)
        if "anyOf" in node:
            return self.any_of(value, node["anyOf"], path)
        issues: list[Issue] = []
        kind = node.get("type")
        if kind is not None and not _TYPES[kind](value):
            return [Issue(path, f"{_show(value)} is not valid here: expected {_NAMES[kind]}")]
        if "enum" in node and value not in node["enum"]:
            choices = ", ".join(str(c) for c in node["enum"])
            return [Issue(path, f"{_show(value)} is not valid here: expected one of {choices}")]
        if "const" in node and value != node["const"]:
            return [Issue(path, f"{_show(value)} is not valid here: expected {node['const']}")]
        if "pattern" in node and isinstance(value, str) and not re.search(node["pattern"], value):
            return [Issue(path, f"{_show(value)} is not valid here: it must match {node['pattern']}")]
        hook = pathmatch.lookup(HOOKS, _pattern_path(path))
        if hook is not None:
            message = hook(value)
            if message:
                return [Issue(path, message)]
        if isinstance(value, dict) and kind == "object":
            issues += self.mapping(value, node, path)
        elif isinstance(value, list) and "items" in node:
            for index, item in enumerate(value):
                issues += self.check(item, node["items"], path + (str(index),))
            if node.get("uniqueItems"):
                issues += duplicates(value, path)
        return issues

    def mapping(self, value: dict, node: dict, path: tuple) -> list[Issue]:
        issues: list[Issue] = []
        properties = node.get("properties", {})
        patterns = node.get("patternProperties", {})
        extra = node.get("additionalProperties", True)
        for key, item in value.items():
            key = str(key)
            if key in properties:
                issues += self.check(item, properties[key], path + (key,))
                continue
            matched = [p for p in patterns if re.search(p, key)]
            if matched:
                for pattern in matched:
                    issues += self.check(item, patterns[pattern], path + (key,))
                continue
            if extra is False and not properties:
                text = "an empty key is not allowed" if not key else \
                    f"\"{key}\" is not a valid name: use letters, digits, '.', '_' and '-'"
                issues.append(Issue(path + (key,), text, key=True))
            elif extra is False:
                import difflib

                close = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
                hint = f" (did you mean \"{close[0]}\"?)" if close else ""
                issues.append(Issue(path + (key,), f"unknown attribute \"{key}\"{hint}", key=True))
            elif isinstance(extra, dict):
                issues += self.check(item, extra, path + (key,))
        for required in node.get("required", []):
            if required not in value:
                issues.append(Issue(path, f"\"{required}\" is required here"))
        return issues

    def any_of(self, value: Any, options: list[dict], path: tuple) -> list[Issue]:
        fitting = []
        wanted: list[str] = []
        for option in options:
            resolved = self.resolve(option)
            if "anyOf" in resolved:
                if not self.any_of(value, resolved["anyOf"], path):
                    return []
                fitting.append(resolved)
                continue
            kind = resolved.get("type")
            if kind is None or _TYPES[kind](value):
                fitting.append(resolved)
            elif kind != "null" or not wanted:
                wanted.append(_NAMES[kind])
        if not fitting:
            unique = list(dict.fromkeys(wanted))
            return [Issue(path, f"{_show(value)} is not valid here: expected {' or '.join(unique)}")]
        best: list[Issue] | None = None
        for option in fitting:
            issues = self.check(value, option, path)
            if not issues:
                return []
            if best is None:
                best = issues
        return best or []


    def drop_unset(self, value: Any, node: dict) -> None:
        """Remove `key: null` from structured mappings (null there means unset, as in compose).

        Free mappings (environment, labels, networks of a service...) keep their nulls: there
        a null has a meaning of its own.
        """
        node = self.resolve(node)
        if "anyOf" in node:
            for option in node["anyOf"]:
                option = self.resolve(option)
                kind = option.get("type")
                if "anyOf" in option or kind is None or _TYPES[kind](value):
                    self.drop_unset(value, option)
                    return
            return
        if isinstance(value, dict) and node.get("type") == "object":
            properties = node.get("properties", {})
            extra = node.get("additionalProperties")
            patterns = node.get("patternProperties", {})
            for key in list(value):
                item = value[key]
                if key in properties:
                    if item is None:
                        del value[key]
                    else:
                        self.drop_unset(item, properties[key])
                elif isinstance(extra, dict):
                    self.drop_unset(item, extra)
                else:
                    for pattern, sub in patterns.items():
                        if pattern != "^x-" and re.search(pattern, key):
                            self.drop_unset(item, sub)
                            break
        elif isinstance(value, list) and "items" in node:
            for item in value:
                self.drop_unset(item, node["items"])


def duplicates(items: list, path: tuple) -> list[Issue]:
    """Items listed twice (compose requires these lists to hold each item once)."""
    seen: dict[str, int] = {}
    issues = []
    for index, item in enumerate(items):
        key = json.dumps(item, sort_keys=True, default=str)
        if key in seen:
            issues.append(Issue(path + (str(index),),
                                f"{_show(item)} is listed twice (items {seen[key]} and {index})"))
        else:
            seen[key] = index
    return issues


def check_merged_lists(model: dict) -> list[Issue]:
    """After files are merged, lists compose keeps as they are must still hold each item once."""
    issues: list[Issue] = []
    for name, service in (model.get("services") or {}).items():
        if not isinstance(service, dict):
            continue
        for key in ("security_opt", "volumes_from", "external_links", "group_add", "device_cgroup_rules"):
            if isinstance(service.get(key), list):
                issues += duplicates(service[key], ("services", name, key))
        build = service.get("build")
        if isinstance(build, dict):
            for key in ("platforms", "cache_from", "cache_to", "entitlements"):
                if isinstance(build.get(key), list):
                    issues += duplicates(build[key], ("services", name, "build", key))
    return issues


def _pattern_path(path: tuple) -> tuple:
    return tuple(path)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"\"{text}\"" if len(text) < 60 else f"\"{text[:57]}...\""


def validate_file(tree: Any, filename: str, problems: Problems) -> None:
    """Record every structural problem of one file (with positions from `tree`)."""
    services = tree.get("services") if isinstance(tree, dict) else None
    if isinstance(services, dict):
        for name, service in services.items():
            if not isinstance(service, dict):
                problems.add("must be a mapping (a service needs at least `image:` or `build:`)",
                             ("services", name), tree=tree)
        if problems:
            return
    validator = Validator(schema())
    for issue in misplaced_nulls(tree) or validator.check(tree, schema(), ()):
        problems.add(issue.message, issue.path, tree=tree,
                     pos=position_of(tree, issue.path, key=issue.key) if issue.key else None)
    if not problems:
        validator.drop_unset(tree, schema())
