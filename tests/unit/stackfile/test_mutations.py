"""Random mutations of valid stack files never give a traceback: a project or a UserError."""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackup.errors import UserError
from stackup.stackfile import LoadOptions, load_project

from tests.unit.stackfile import conformance

SAMPLE = {
    "name": "mut",
    "services": {
        "web": {"image": "nginx", "ports": ["8080:80", {"target": 443, "published": 8443}],
                "volumes": ["data:/data", "./site:/site:ro"], "environment": {"A": "1"},
                "depends_on": {"db": {"condition": "service_healthy"}}, "networks": ["front"],
                "healthcheck": {"test": "true", "interval": "5s"}, "deploy": {"replicas": 2},
                "command": "run --fast", "labels": ["a=b"], "ulimits": {"nofile": {"soft": 1, "hard": 2}}},
        "db": {"image": "postgres", "environment": ["B=2"], "secrets": ["pw"], "tmpfs": "/tmp",
               "healthcheck": {"test": ["CMD", "true"]}, "mem_limit": "1g", "stop_grace_period": "1m"},
    },
    "networks": {"front": {"driver": "bridge"}},
    "volumes": {"data": {}},
    "secrets": {"pw": {"file": "./pw.txt"}},
}

REPLACEMENTS = st.one_of(st.none(), st.booleans(), st.integers(-70000, 70000), st.text(max_size=12),
                         st.just("${"), st.just("80800:80"), st.just([]), st.just({}), st.just(["x"]),
                         st.just({"bogus": 1}), st.just("1:2:3:4"), st.just("service:nope"),
                         st.just({"service": "db"}), st.just({"service": "nope", "file": "missing.yaml"}),
                         st.just([None]), st.just([{}]), st.just({"a": None}), st.just("1.5x"),
                         st.just("${UNSET:?needed}"), st.just("$$"), st.just(-1), st.just(0.5),
                         st.just({"condition": "bogus"}), st.just("!reset"), st.just(["a=b", 3]))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


ALL_PATHS = [p for p in _paths(SAMPLE) if p] + [("services", "web", "extends"), ("include",),
                                                 ("services", "db", "profiles"), ("services", "web", "build")]


def _mutate(tree, path, value, action):
    tree = copy.deepcopy(tree)
    parent = tree
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        if last in parent if isinstance(parent, dict) else True:
            del parent[last]
    elif action == "rename" and isinstance(parent, dict):
        parent[str(last) + "x"] = parent.pop(last)
    else:
        parent[last] = value
    return tree


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), REPLACEMENTS,
                          st.sampled_from(["replace", "delete", "rename"])), min_size=1, max_size=3))
def test_mutated_files_load_or_fail_cleanly(tmp_path, mutations):
    tree = SAMPLE
    for path, value, action in mutations:
        try:
            tree = _mutate(tree, path, value, action)
        except (KeyError, IndexError, TypeError):
            continue
    stack = tmp_path / "compose.yaml"
    stack.write_text(yaml.safe_dump(json.loads(json.dumps(tree, default=str))))
    (tmp_path / "pw.txt").write_text("x")
    try:
        project = load_project(LoadOptions(files=[str(stack)]), {"HOME": str(tmp_path)}, cwd=tmp_path)
    except UserError as exc:
        assert exc.lines() and all(line for line in exc.lines())
    else:
        json.dumps(project.to_dict())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_arbitrary_text_loads_or_fails_cleanly(tmp_path, text):
    stack = tmp_path / "compose.yaml"
    stack.write_text(text)
    try:
        load_project(LoadOptions(files=[str(stack)]), {}, cwd=tmp_path)
    except UserError:
        pass


def test_the_unmutated_sample_loads(tmp_path):
    stack = tmp_path / "compose.yaml"
    stack.write_text(yaml.safe_dump(SAMPLE))
    (tmp_path / "pw.txt").write_text("x")
    project = load_project(LoadOptions(files=[str(stack)]), {}, cwd=Path(tmp_path))
    assert sorted(project.services) == ["db", "web"]


# -- line-level mutations of the conformance files -----------------------------------

CASE_DIRS = [conformance.CORPUS / n for n in conformance.cases()] + \
    [conformance.LOCAL / n for n in conformance.cases(conformance.LOCAL)]
TOKENS = ["null", "[]", "{}", "- x", "1", "-1", "true", "${X}", "$$", "'a:b:c'", "!reset", "!override",
          "*a", "&a x", "<<: *a", ":", '"', "65536", "0.5", "~/x", "./y:/z", "service:x", "1g", "10s"]
LINE_EDITS = st.tuples(st.integers(0, 10_000), st.integers(0, 4), st.sampled_from(TOKENS), st.integers(0, 5))


def _edit(lines: list[str], edit) -> None:
    index, op, token, indent = edit
    if not lines:
        return
    i = index % len(lines)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[(index * 7) % len(lines)])
    elif op == 2:
        head, sep, _ = lines[i].partition(": ")
        lines[i] = f"{head}: {token}" if sep else f"{lines[i]} {token}"
    elif op == 3:
        lines[i] = " " * indent + lines[i].lstrip()
    else:
        lines[i] = lines[i].replace(":", "", 1)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(CASE_DIRS) if CASE_DIRS else st.nothing(), st.integers(0, 100),
       st.lists(LINE_EDITS, min_size=1, max_size=3))
def test_line_mutations_of_real_files_load_or_fail_cleanly(tmp_path_factory, case, pick, edits):
    work = tmp_path_factory.mktemp("case") / case.name
    shutil.copytree(case, work)
    for path in work.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    stacks = sorted(p for p in work.rglob("*") if p.suffix in (".yaml", ".yml") and not p.name.startswith("expected"))
    if not stacks:
        return
    target = stacks[pick % len(stacks)]
    lines = target.read_text().splitlines()
    for edit in edits:
        _edit(lines, edit)
    target.write_text("\n".join(lines) + "\n")
    options = conformance.parse_cmd(shlex.split((work / "cmd").read_text()))
    old = os.getcwd()
    os.chdir(work)
    try:
        project = load_project(options, conformance.environ_of(work), cwd=work)
        json.dumps(project.to_dict(escape_dollars=True))
    except UserError as exc:
        assert all(isinstance(line, str) and line for line in exc.lines())
    finally:
        os.chdir(old)
