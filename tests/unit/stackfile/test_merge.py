"""Merging files by compose's rules, with properties checked on generated trees."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from stackup.stackfile.loader import apply_resets
from stackup.stackfile.merge import enforce_unicity, merge


def test_command_is_replaced_lists_append_and_mappings_merge():
    base = {"services": {"web": {"command": ["a", "b"], "cap_add": ["X"], "deploy": {"replicas": 1}}}}
    over = {"services": {"web": {"command": ["c"], "cap_add": ["Y"], "deploy": {"mode": "global"}}}}
    merged = merge(base, over)
    assert merged["services"]["web"] == {"command": ["c"], "cap_add": ["X", "Y"],
                                         "deploy": {"replicas": 1, "mode": "global"}}


def test_environment_list_and_mapping_merge_with_later_value_winning():
    base = {"services": {"web": {"environment": ["A=1", "B=2"]}}}
    over = {"services": {"web": {"environment": {"B": 3, "C": None}}}}
    merged = enforce_unicity(merge(base, over))
    assert merged["services"]["web"]["environment"] == ["A=1", "B=3", "C"]


def test_ports_and_volumes_keep_one_item_per_key():
    base = {"services": {"web": {"volumes": ["./a:/data", "/x:/y"], "ports": ["80:80"]}}}
    over = {"services": {"web": {"volumes": ["./b:/data"], "ports": ["80:80"]}}}
    merged = enforce_unicity(merge(base, over))
    assert merged["services"]["web"]["volumes"] == ["./b:/data", "/x:/y"]
    assert merged["services"]["web"]["ports"] == ["80:80"]


def test_depends_on_list_becomes_mapping_when_merged():
    merged = merge({"services": {"a": {"depends_on": ["b"]}}},
                   {"services": {"a": {"depends_on": {"c": {"condition": "service_healthy"}}}}})
    assert merged["services"]["a"]["depends_on"] == {
        "b": {"condition": "service_started", "required": True}, "c": {"condition": "service_healthy"}}


def test_logging_options_merge_only_for_the_same_driver():
    same = merge({"services": {"a": {"logging": {"driver": "x", "options": {"a": "1"}}}}},
                 {"services": {"a": {"logging": {"driver": "x", "options": {"b": "2"}}}}})
    assert same["services"]["a"]["logging"]["options"] == {"a": "1", "b": "2"}
    other = merge({"services": {"a": {"logging": {"driver": "x", "options": {"a": "1"}}}}},
                  {"services": {"a": {"logging": {"driver": "y"}}}})
    assert other["services"]["a"]["logging"] == {"driver": "y"}


def test_reset_removes_what_the_earlier_file_set():
    model = {"services": {"web": {"ports": ["80:80"], "image": "x"}}}
    apply_resets(model, [("services", "web", "ports")])
    assert model == {"services": {"web": {"image": "x"}}}


keys = st.sampled_from(["image", "user", "hostname", "x-a", "x-b", "working_dir"])
scalars = st.one_of(st.text(max_size=5), st.integers(), st.booleans())
leafy = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=4), max_leaves=10)
trees = st.dictionaries(keys, leafy, max_size=5)


@given(trees)
def test_merging_with_empty_is_identity(tree):
    assert merge(copy.deepcopy(tree), {}) == tree
    assert merge({}, copy.deepcopy(tree)) == tree


flat = st.dictionaries(keys, scalars, max_size=5)


@given(flat, flat)
def test_scalars_of_the_override_win_and_no_key_is_lost(a, b):
    assert merge(dict(a), dict(b)) == {**a, **b}


@given(trees, trees)
def test_merge_gives_a_tree_or_a_clear_error(a, b):
    from stackup.stackfile.merge import MergeError
    try:
        merged = merge(copy.deepcopy(a), copy.deepcopy(b))
    except MergeError as exc:
        assert "cannot override" in str(exc)
    else:
        assert set(merged) == set(a) | set(b)


@given(trees)
def test_merging_a_tree_with_itself_changes_no_scalar(tree):
    merged = merge(copy.deepcopy(tree), copy.deepcopy(tree))
    assert merged == tree


@given(st.lists(st.sampled_from(["A=1", "A=2", "B=1", "C"]), max_size=8))
def test_unicity_keeps_one_entry_per_key_with_the_last_value(items):
    model = {"services": {"s": {"environment": list(items)}}}
    result = enforce_unicity(model)["services"]["s"]["environment"]
    keys_seen = [i.split("=")[0] for i in result]
    assert len(keys_seen) == len(set(keys_seen))
    for item in result:
        key = item.split("=")[0]
        assert item == [i for i in items if i.split("=")[0] == key][-1]
