"""YAML 1.2 scalars, positions, merge keys, tags and YAML errors."""

from __future__ import annotations

import pytest

from stackup.stackfile.yamlpos import Pos, YamlError, load_documents, position_of


def load(text):
    return load_documents(text, "f.yaml")[0]


def test_yaml_1_2_scalars_as_compose_reads_them():
    doc = load("a: yes\nb: on\nc: 1:20\nd: 0440\ne: 0o17\nf: 0x1F\ng: 1.5\nh: ~\ni: True\nj: '1'\nk: -3\n")
    assert doc.value == {"a": "yes", "b": "on", "c": "1:20", "d": 288, "e": 15, "f": 31, "g": 1.5,
                         "h": None, "i": True, "j": "1", "k": -3}


def test_positions_of_keys_values_and_items():
    doc = load("services:\n  web:\n    ports:\n      - '80:80'\n      - 443\n")
    tree = doc.value
    assert position_of(tree, ("services", "web", "ports", "1")) == Pos("f.yaml", 5, 9)
    assert position_of(tree, ("services", "web"), key=True) == Pos("f.yaml", 2, 3)
    assert position_of(tree, ("services", "nope", "x")) == Pos("f.yaml", 2, 3)


def test_merge_keys_do_not_override_written_keys():
    doc = load("base: &b {image: a, user: u}\nsvc:\n  <<: *b\n  image: c\n")
    assert doc.value["svc"] == {"image": "c", "user": "u"}


def test_reset_and_override_tags_are_recorded_as_paths():
    doc = load("services:\n  web:\n    ports: !reset []\n    command: !override [a]\n")
    assert doc.value == {"services": {"web": {"command": ["a"]}}}
    assert doc.reset_paths == [("services", "web", "ports")]
    assert doc.override_paths == [("services", "web", "command")]


def test_duplicate_keys_and_bad_yaml_name_the_place():
    with pytest.raises(YamlError, match=r'f.yaml:3:1: mapping key "a" already defined at line 1'):
        load("a: 1\nb: 2\na: 3\n")
    with pytest.raises(YamlError, match=r"^f.yaml:2:"):
        load("a: [1\nb: 2\n")


def test_multiple_documents():
    docs = load_documents("a: 1\n---\nb: 2\n", "f.yaml")
    assert [d.value for d in docs] == [{"a": 1}, {"b": 2}]


def test_alias_bombs_are_refused():
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 8):
        text += f"l{i}: &l{i} [" + ", ".join([f"*{'a' if i == 1 else f'l{i - 1}'}"] * 10) + "]\n"
    with pytest.raises(YamlError, match="excessive aliasing: .* too many nodes"):
        load(text)


def test_tabs_get_a_hint():
    with pytest.raises(YamlError, match=r"f.yaml:3:1: .*YAML indents with spaces only"):
        load("services:\n  web:\n\timage: x\n")
