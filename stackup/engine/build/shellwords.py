"""Dockerfile word processing: quotes, escapes and `$VAR` expansion, as BuildKit's shell lexer does.

Docker does not run a shell to expand `COPY $SRC $DEST`: it has its own small lexer with its own
rules (no command substitution, no globbing, `$$` is an unset special parameter and so empty,
the escape token is the Dockerfile's `escape` directive). These functions follow those rules:

- `expand(word, env)`: one word (Docker's ProcessWord): quotes removed, variables replaced,
  whitespace kept.
- `expand_words(text, env)`: the same, then split on unquoted whitespace (ProcessWords); the
  value of an unquoted variable is split too.
- `parse_words(text)`: split an instruction's text into words *keeping* quotes and escapes
  (what the parser hands ENV, LABEL and ARG before expansion).
- `split_key_values(text, keyword)`: the `K=V K2="a b"` and legacy `K V` forms of ENV/LABEL,
  the `NAME[=default]...` form of ARG.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from stackup.errors import UserError


class WordsError(UserError):
    """A word Docker's lexer refuses (an unmatched quote, a bad `${...}`); the caller adds where."""


_EOF = ""
_SPECIAL_PARAMS = "@*#?-$!0"  # POSIX special parameters: never set in a Dockerfile
_LATIN1_SPACES = "\t\n\v\f\r \x85\xa0"


def _is_space(ch: str) -> bool:
    """Go's unicode.IsSpace (Python's isspace also counts the ASCII separators 0x1c-0x1f)."""
    if ord(ch) < 0x100:
        return ch in _LATIN1_SPACES
    return ch.isspace()


class _Words:
    """Accumulates the split words of ProcessWords alongside the joined result."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if _is_space(ch):
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_text(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf = []
            self.in_word = False
        return self.words


class _Lexer:
    """One pass over one word (BuildKit's shellWord), with its switches:

    raw_quotes keeps quote characters in the result, raw_escapes keeps escape tokens,
    skip_unset leaves `$NAME` of an unset NAME as written, skip_quotes treats quotes as
    ordinary characters (heredoc bodies)."""

    def __init__(
        self,
        text: str,
        env: Mapping[str, str],
        escape: str,
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset: bool = False,
        skip_quotes: bool = False,
    ) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.skip_quotes = skip_quotes

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def run(self) -> tuple[str, list[str]]:
        try:
            return self.until(_EOF, self.raw_escapes)
        except WordsError as error:
            raise WordsError(f"failed to process {self.text!r}: {error}") from None

    def until(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to `stop` (consumed) or the end; returns the text and its split words."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved

    def _until(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while (ch := self.peek()) != _EOF:
            if stop and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch == "$":
                value = self.dollar()
                result.append(value)
                words.add_text(value)  # an unquoted variable's value is split into words
            elif ch == "<":
                value = self.possible_heredoc()
                result.append(value)
                words.add_raw(value)
            elif ch in "'\"" and not self.skip_quotes:
                value = self.single_quoted() if ch == "'" else self.double_quoted()
                result.append(value)
                words.add_raw(value)
            else:
                self.next()
                if ch == self.escape:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == _EOF:  # a trailing escape token is dropped
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop:
            raise WordsError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quoted(self) -> str:
        # everything up to the next ' is literal; a ' cannot be escaped inside
        opening = self.next()
        out = [opening] if self.raw_quotes else []
        while True:
            ch = self.next()
            if ch == _EOF:
                raise WordsError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quoted(self) -> str:
        # literal except $ (expanded) and the escape token before " $ or itself
        opening = self.next()
        out = [opening] if self.raw_quotes else []
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise WordsError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def possible_heredoc(self) -> str:
        # `<<` and the blanks after it stay glued to the word that follows (`<< EOF` is one word)
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        spaces = []
        while self.peek() and self.peek() in "\t\r ":
            spaces.append(self.next())
        return "<<" + "".join(spaces)

    def name(self) -> str:
        """A variable name: letters, digits, _; or all the digits of a positional parameter;
        or one special parameter character."""
        out: list[str] = []
        while (ch := self.peek()) != _EOF:
            if not out and ch.isdecimal():
                while self.peek() != _EOF and self.peek().isdecimal():
                    out.append(self.next())
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                return self.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            out.append(self.next())
        return "".join(out)

    def lookup(self, name: str) -> tuple[str, bool]:
        value = self.env.get(name)
        return (value, True) if value is not None else ("", False)

    def dollar(self) -> str:
        self.next()  # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.skip_unset:
                return "$" + name
            return value
        self.next()  # the {
        first = self.peek()
        if first == _EOF:
            raise WordsError("syntax error: missing '}'")
        if first in "{}:":
            raise WordsError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == _EOF:
            raise WordsError("syntax error: missing '}'")
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.skip_unset:
                return "${%s}" % name
            return value
        if ch == "/":
            return self.substitute(name)
        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        trims = ch in ("#", "%")
        if null_is_unset and trims:
            raise WordsError(f"unsupported modifier ({modifier}) in substitution")
        if not null_is_unset and ch not in "+-?#%":
            raise WordsError(f"unsupported modifier ({modifier}) in substitution")
        word = self.operand("}", raw_escapes=trims, missing="syntax error: missing '}'")
        value, found = self.lookup(name)
        if self.skip_unset and not found:
            return "${%s%s%s}" % (name, modifier, word)
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise WordsError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise WordsError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word[:1] == ch
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise WordsError(f"unsupported modifier ({modifier}) in substitution")

    def substitute(self, name: str) -> str:
        """${NAME/pattern/replacement} (first match) and ${NAME//pattern/replacement} (all)."""
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern = self.operand("/", raw_escapes=True, missing="syntax error: missing '/' in ${}")
        replacement = self.operand("}", raw_escapes=True, missing="syntax error: missing '}'")
        value, found = self.lookup(name)
        if self.skip_unset and not found:
            return "${%s/%s/%s}" % (name, pattern, replacement)
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return regex.sub(lambda _m: replacement, value)
        return regex.sub(lambda _m: replacement, value, count=1)

    def operand(self, stop: str, *, raw_escapes: bool, missing: str) -> str:
        try:
            text, _ = self.until(stop, raw_escapes)
        except WordsError:
            if self.peek() == _EOF:
                raise WordsError(missing) from None
            raise
        return text


_REGEX_SPECIAL = set("[]{}.+()|^$")


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (`*`, `?`, `\\` escapes; no bracket expressions) as a regex."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < len(pattern) else ""
            if following in ("}", "/") and following:
                continue  # escaped only to get it past the ${...} syntax
            if following not in ("*", "?", "\\") or not following:
                raise WordsError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'")
            out.append("\\" + following)
            i += 1
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)  # nothing else is special outside a character class
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end():] if match else value


def _reverse_pattern(pattern: str) -> str:
    """The pattern reversed, each `\\x` escape pair kept in order."""
    pieces: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            pieces.append(pattern[i:i + 2])
            i += 2
        else:
            pieces.append(pattern[i])
            i += 1
    return "".join(reversed(pieces))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # a regex finds the leftmost match, so search the reversed value with the reversed pattern
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word with Docker's quote removal, escapes and variable expansion (ProcessWord)."""
    return _Lexer(word, env, escape).run()[0]


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """`text` expanded and split on unquoted whitespace (ProcessWords)."""
    return _Lexer(text, env, escape).run()[1]


def expand_heredoc(text: str, env: Mapping[str, str]) -> str:
    """A heredoc body of COPY/ADD (unquoted delimiter): variables and `\\` escapes are
    processed, quotes are ordinary characters. Always `\\`, whatever the escape directive."""
    return _Lexer(text, env, "\\", skip_quotes=True).run()[0]


def raw_words(text: str) -> list[str]:
    """`text` split as the heredoc detector sees it: quotes and escapes kept, unset variables
    left as written (`<<"EOF"` stays one word with its quotes)."""
    try:
        return _Lexer(text, {}, "\\", raw_quotes=True, raw_escapes=True, skip_unset=True).run()[1]
    except WordsError:
        return []


def heredoc_name(word: str) -> tuple[str, bool] | None:
    """The delimiter of a heredoc word's name part and whether the body is expanded
    (no part of the delimiter quoted); None when it is not one word."""
    plain = _Lexer(word, {}, "\\", skip_unset=True).run()[1]
    if len(plain) != 1:
        return None
    raw = _Lexer(word, {}, "\\", skip_unset=True, raw_quotes=True).run()[1]
    quotes = plain[0].count("'") + plain[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"') if raw else -1
    return plain[0], quotes == raw_quotes


def parse_words(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escape tokens in the words
    (expansion later removes them). A trailing escape token is dropped."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    in_word = False
    blank_ok = False  # a quoted empty string is still a word
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    i += 1
                    continue
                buf.append(ch)
                i += 1
                ch = text[i]
            buf.append(ch)
            i += 1
            continue
        if not in_word:
            if _is_space(ch):
                i += 1
                continue
            in_word = True
        if _is_space(ch):
            if blank_ok or buf:
                words.append("".join(buf))
            buf, blank_ok, in_word = [], False, False
            i += 1
            continue
        if ch in ("'", '"'):
            quote = ch
            blank_ok = True
        elif ch == escape:
            if i + 1 == n:
                i += 1
                continue
            buf.append(ch)
            i += 1
            ch = text[i]
        buf.append(ch)
        i += 1
    if in_word and (blank_ok or buf):
        words.append("".join(buf))
    return words


_WHITESPACE = re.compile(r"[\t\v\f\r ]+")


def split_key_values(text: str, escape: str = "\\", *, keyword: str = "ENV") -> list[tuple[str, str | None]]:
    """ENV/LABEL: `K=V ...` or the legacy `K V...` (all the rest is the value); ARG: `NAME`
    or `NAME=default`, several allowed. Keys and values are unexpanded (quotes kept);
    an ARG without a default has None."""
    words = parse_words(text, escape)
    if keyword == "ARG":
        return [_split_arg(word) for word in words]
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WHITESPACE.split(text, maxsplit=1)
        if len(parts) < 2:
            raise WordsError(f"{keyword} must have two arguments")
        return [(parts[0], parts[1])]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        if "=" not in word:
            raise WordsError(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        key, value = word.split("=", 1)
        pairs.append((key, value))
    return pairs


def _split_arg(word: str) -> tuple[str, str | None]:
    if "=" in word:
        key, value = word.split("=", 1)
        return key, value
    return word, None
