"""dotenv parsing as compose reads .env and env_file."""

from __future__ import annotations

import pytest

from stackup.stackfile.envfile import EnvFileError, parse


def test_the_forms_compose_reads():
    text = ("# comment\nA=1\nexport B=two\nC: three\nD='single $A'\nE=\"double $A\\n\"\n"
            "F=unquoted # comment\nG=${A}-${MISSING:-dflt}\nH\n  I = spaced  \n")
    assert parse(text, {"H": "inherited"}.get) == {
        "A": "1", "B": "two", "C": "three", "D": "single $A", "E": "double 1\n", "F": "unquoted",
        "G": "1-dflt", "H": "inherited", "I": "spaced"}


def test_environment_wins_over_earlier_keys_in_substitution():
    assert parse("A=file\nB=$A\n", {"A": "env"}.get) == {"A": "file", "B": "env"}


def test_inherited_key_without_value_is_skipped():
    assert parse("H\n", {}.get) == {}


def test_errors_name_the_line():
    with pytest.raises(EnvFileError, match="line 2"):
        parse("A=1\nB C=2\n")
    with pytest.raises(EnvFileError, match="unterminated"):
        parse("A='open\n")
