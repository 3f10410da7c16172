"""Interpolation: the whole syntax, and properties that must hold for any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackup.stackfile.interpolation import InterpolationError, MissingRequired, interpolate, substitute

ENV = {"SET": "value", "EMPTY": ""}.get


@pytest.mark.parametrize("template,expected", [
    ("$SET", "value"), ("${SET}", "value"), ("a${SET}b", "avalueb"), ("$UNSET", ""),
    ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${UNSET-d}", "d"),
    ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"), ("${UNSET+alt}", ""),
    ("${UNSET:-${SET}}", "value"), ("${UNSET:-${ALSO:-deep}}", "deep"), ("$$SET", "$SET"),
    ("$$", "$"), ("50$", "50$"), ("$1", "$1"), ("${SET}${SET}", "valuevalue"),
])
def test_syntax(template, expected):
    assert substitute(template, ENV) == expected


def test_required_variables_carry_their_message():
    with pytest.raises(MissingRequired, match="required variable X is missing a value: say X"):
        substitute("${X:?say X}", ENV)
    with pytest.raises(MissingRequired):
        substitute("${EMPTY:?}", ENV)
    assert substitute("${EMPTY?err}", ENV) == ""


def test_invalid_templates_are_errors():
    for bad in ("${", "${1}", "${A B}", "${SET"):
        with pytest.raises(InterpolationError):
            substitute(bad, ENV)


def test_keys_are_not_interpolated_and_values_are_cast():
    tree = {"services": {"$web": {"image": "${SET}", "privileged": "true", "scale": "${N}"}}}
    errors = []
    interpolate(tree, {"SET": "x", "N": "3"}.get, lambda p, m: errors.append(m))
    assert tree == {"services": {"$web": {"image": "x", "privileged": True, "scale": 3}}}
    assert not errors


text_without_dollar = st.text(alphabet=st.characters(blacklist_characters="$"), max_size=30)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@given(text_without_dollar)
def test_text_without_dollar_is_unchanged(text):
    assert substitute(text, ENV) == text


@given(st.text(max_size=30))
def test_escaped_text_comes_back_literally(text):
    assert substitute(text.replace("$", "$$"), lambda _k: "NOPE") == text


@given(names, text_without_dollar.filter(lambda t: "}" not in t and "{" not in t), text_without_dollar)
def test_defaults_apply_only_when_unset(name, default, value):
    assert substitute(f"${{{name}:-{default}}}", {}.get) == default
    assert substitute(f"${{{name}-{default}}}", {name: value}.get) == value


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_any_text_substitutes_or_raises_a_clear_error(text):
    try:
        result = substitute(text, ENV)
    except InterpolationError as exc:
        assert str(exc)
    else:
        assert isinstance(result, str)
