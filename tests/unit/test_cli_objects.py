"""The helpers `stackup network` and `stackup volume` share (stackup.cli.objects)."""

from __future__ import annotations

import pytest
import typer

from stackup.cli import objects
from stackup.errors import NotFoundError, UserError

NETS = [{"name": "web", "labels": {"team": "a"}}, {"name": "web-back", "labels": {"team": "b"}},
        {"name": "db", "labels": {}}]


def test_parse_filters():
    assert objects.parse_filters(["label=team=a", "label=x", "name=we"]) == (
        {"team": "a", "x": None}, ["we"])
    with pytest.raises(UserError, match="expected label=KEY"):
        objects.parse_filters(["label="])
    with pytest.raises(UserError, match="unknown filter 'id'"):
        objects.parse_filters(["id=3"])


def test_pairs():
    assert objects.pairs(["a=1", "b=", "c"], "--label") == {"a": "1", "b": "", "c": ""}
    with pytest.raises(UserError, match="--opt '=v': expected KEY=VALUE"):
        objects.pairs(["=v"], "--opt")
    assert objects.pairs(["a=1", "b="], "--sysctl", need_equals=True) == {"a": "1", "b": ""}
    with pytest.raises(UserError, match="--sysctl 'c': expected KEY=VALUE"):
        objects.pairs(["c"], "--sysctl", need_equals=True)


def test_show_list_filters_and_formats(capsys):
    objects.show_list(lambda: NETS, ["name=web"], False, ("NAME", "TEAM"),
                      lambda n: (n["name"], n["labels"].get("team", "")))
    assert capsys.readouterr().out.splitlines() == [
        "NAME       TEAM", "web        a", "web-back   b"]
    objects.show_list(lambda: NETS, ["label=team=b"], True, ("NAME",), lambda n: (n["name"],))
    assert capsys.readouterr().out.split() == ["web-back"]


def test_show_list_rejects_bad_filters_before_listing():
    def listing():
        raise AssertionError("listed despite a bad filter")

    with pytest.raises(UserError):
        objects.show_list(listing, ["bogus"], True, ("NAME",), lambda n: (n["name"],))


def test_remove_each_tries_all_and_reports_every_failure(capsys):
    removed = []

    def remove(name):
        if name.startswith("x"):
            raise NotFoundError(f"network {name} not found")
        removed.append(name)

    with pytest.raises(UserError) as info:
        objects.remove_each(["a", "x1", "b", "x2"], remove)
    assert removed == ["a", "b"] and capsys.readouterr().out.split() == ["a", "b"]
    assert info.value.lines() == ["network x1 not found", "network x2 not found"]


def test_prune_after_prompt(monkeypatch, capsys):
    seen = []

    def prune(labels):
        seen.append(labels)
        return ["web"]

    with pytest.raises(UserError, match="name= is not supported"):
        objects.prune_after_prompt(["name=w"], True, "Sure?", prune, "Deleted:")
    monkeypatch.setattr(typer, "confirm", lambda question: False)
    objects.prune_after_prompt([], False, "Sure?", prune, "Deleted:")
    assert seen == [] and capsys.readouterr().out == ""
    objects.prune_after_prompt(["label=team"], True, "Sure?", prune, "Deleted:")
    assert seen == [{"team": None}] and capsys.readouterr().out.split() == ["Deleted:", "web"]
