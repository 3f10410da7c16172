"""Docker's word expansion: quotes, escapes, every ${} operator, word splitting."""

from __future__ import annotations

import pytest

from stackup.engine.build.shellwords import (
    WordsError,
    expand,
    expand_heredoc,
    expand_words,
    parse_words,
    split_key_values,
)

ENV = {"HOME": "/root", "EMPTY": "", "FILE": "archive.tar.gz", "SPACED": "a  b ", "SHELL": "sh"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("plain", "plain"),
        ("$HOME", "/root"),
        ("${HOME}/x", "/root/x"),
        ("$HOME.d", "/root.d"),
        ("$UNSET", ""),
        ("a$UNSET-b", "a-b"),
        ("$", "$"),
        ("$.", "$."),
        ("cost: 5$", "cost: 5$"),
        ("$$", ""),  # $ is a special parameter, never set in a Dockerfile
        ("$1x", "x"),  # positional parameters are never set
        ("$123abc", "abc"),
        ("\\$HOME", "$HOME"),
        ("\\\\$HOME", "\\/root"),
        ("it\\'s", "it's"),
        ("a\\tb", "atb"),
        ("trailing\\", "trailing"),
        ("trailing\\\\", "trailing\\"),
    ],
)
def test_expand_unquoted(word: str, expected: str) -> None:
    assert expand(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("'$HOME'", "$HOME"),
        ("'a\\tb'", "a\\tb"),
        ("'single\\'", "single\\"),
        ('"$HOME"', "/root"),
        ('"a\\tb"', "a\\tb"),  # in double quotes only \" \$ \\ are escapes
        ('"a\\\\tb"', "a\\tb"),
        ('"\\$HOME"', "$HOME"),
        ('"say \\"hi\\""', 'say "hi"'),
        ("\"it's\"", "it's"),
        ("'\"q\"'", '"q"'),
        ("he'll'o", "hello"),
        ('"${HOME}"\'${HOME}\'', "/root${HOME}"),
    ],
)
def test_expand_quotes(word: str, expected: str) -> None:
    assert expand(word, ENV) == expected


@pytest.mark.parametrize("word", ["'open", '"open', '"open\\"', "he'llo", "a\\\\'b"])
def test_unmatched_quotes_are_errors(word: str) -> None:
    with pytest.raises(WordsError):
        expand(word, ENV)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${UNSET:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${UNSET-def}", "def"),
        ("${HOME:-def}", "/root"),
        ("${UNSET:-$HOME}", "/root"),
        ("${UNSET:-${ALSO:-deep}}", "deep"),
        ("${HOME:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${HOME?}", "/root"),
        ("${EMPTY?}", ""),
        ("${HOME:?msg}", "/root"),
        ("${UNSET:-a b}", "a b"),
        ("${UNSET:-\\$HOME}", "$HOME"),
        ("${UNSET:-bbb {foo}", "bbb {foo"),
        ("${HOME}}", "/root}"),
    ],
)
def test_default_and_alternative_operators(word: str, expected: str) -> None:
    assert expand(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${UNSET?}", "UNSET: is not allowed to be unset"),
        ("${UNSET?custom text}", "UNSET: custom text"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${}", "bad substitution"),
        ("${:-x}", "bad substitution"),
        ("${HOME", "missing '}'"),
        ("${HOME:-x", "missing '}'"),
        ("${HOME:=x}", "unsupported modifier"),
        ("${HOME:x}", "unsupported modifier"),
        ("${HOME:#x}", "unsupported modifier (:#)"),
        ("${.}", "unsupported modifier"),
        ("${HOME/x", "missing '/'"),
    ],
)
def test_expansion_errors(word: str, message: str) -> None:
    with pytest.raises(WordsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand(word, ENV)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "archive.tar"),
        ("${FILE%%.*}", "archive"),
        ("${FILE#nomatch}", "archive.tar.gz"),
        ("${FILE#arch}", "ive.tar.gz"),
        ("${FILE%?z}", "archive.tar."),
        ("${FILE/tar/zip}", "archive.zip.gz"),
        ("${FILE//a/A}", "Archive.tAr.gz"),
        ("${FILE/*./}", "gz"),  # * is greedy in substitutions
        ("${FILE/nomatch/x}", "archive.tar.gz"),
        ("${UNSET/a/b}", ""),
        ("${FILE#\\*}", "archive.tar.gz"),
        ("${HOME/\\//+}", "+root"),
        ("${HOME//\\//-}", "-root"),
        ("${FILE/ar?h/X}", "Xive.tar.gz"),
        ("${FILE/(/x}", "archive.tar.gz"),  # regex characters are literal
    ],
)
def test_pattern_operators(word: str, expected: str) -> None:
    assert expand(word, ENV) == expected


def test_pattern_with_a_bad_escape_is_an_error() -> None:
    with pytest.raises(WordsError, match="invalid escape"):
        expand("${FILE#\\a}", ENV)


def test_backtick_escape_token() -> None:
    assert expand("a`$HOME", ENV, "`") == "a$HOME"
    assert expand("C:\\dir\\$HOME", ENV, "`") == "C:\\dir\\/root"
    assert expand('"`"q`""', ENV, "`") == '"q"'


def test_unicode_is_kept() -> None:
    assert expand("안'녕'$SHELL", ENV) == "안녕sh"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a b  c", ["a", "b", "c"]),
        ("hello\\ there", ["hello there"]),
        ('"a b" c', ["a b", "c"]),
        ("x${SPACED}y", ["xa", "b", "y"]),  # an unquoted value splits
        ('x"${SPACED}"y', ["xa  b y"]),
        ("$SPACED", ["a", "b"]),
        ('hello\\" there', ['hello"', "there"]),
        ("", []),
        ("  ", []),
        ("80/tcp $UNSET 443", ["80/tcp", "443"]),
    ],
)
def test_expand_words(text: str, expected: list[str]) -> None:
    assert expand_words(text, ENV) == expected


def test_heredoc_bodies_keep_quotes_and_expand() -> None:
    assert expand_heredoc("say '$SHELL' \"$HOME\" \\$HOME\n", ENV) == "say 'sh' \"/root\" $HOME\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('A="x y" B=z', ['A="x y"', "B=z"]),
        ("a\\ b c", ["a\\ b", "c"]),
        ("'it''s'", ["'it''s'"]),
        ('""', ['""']),
        ("x\\", ["x"]),
        ("   ", []),
    ],
)
def test_parse_words_keeps_quotes(text: str, expected: list[str]) -> None:
    assert parse_words(text) == expected


def test_split_key_values_forms() -> None:
    assert split_key_values('A=1 B="two words" C=') == [("A", "1"), ("B", '"two words"'), ("C", "")]
    assert split_key_values("NAME some long  value") == [("NAME", "some long  value")]
    assert split_key_values("A B=C") == [("A", "B=C")]  # legacy: the first word has no =
    assert split_key_values("X Y Z=1", keyword="ARG") == [("X", None), ("Y", None), ("Z", "1")]
    assert split_key_values("") == []


def test_split_key_values_errors() -> None:
    with pytest.raises(WordsError, match="ENV must have two arguments"):
        split_key_values("ONLY")
    with pytest.raises(WordsError, match="can't find = in 'B'"):
        split_key_values("A=1 B", keyword="LABEL")
