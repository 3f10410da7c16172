"""The `.dockerignore` rules: which paths of a build context the builder may see.

The semantics are those of Docker's pattern matcher (moby/patternmatcher) as BuildKit's
context walker (fsutil) applies them:

- a pattern is cleaned like Go's `filepath.Clean`, a leading `/` is dropped (so `/a` and `a`
  are the same) and so is a trailing one;
- `*` matches any run of characters but `/`, `?` one character but `/`, `[...]` a class
  (`[^...]` negated, ranges, `\\` escapes inside), `\\x` the character x; `**` matches any
  number of folders (zero included): `**/x` is `x` at any depth, `a/**` all below `a`;
- a pattern that matches a folder excludes everything below it;
- `!pattern` is an exception: a path is excluded when the LAST pattern that matches it (or
  one of its parent folders) is not an exception;
- an excluded folder is still walked when an exception could match something inside it,
  and then exists only as the parent of what the exceptions bring back.

The Dockerfile and the ignore file themselves are always read by the builder, whatever
the patterns say (Docker sends them apart from the context), but BuildKit's COPY/ADD see
the context through the patterns, so `COPY . .` leaves them out when they are ignored:
`Matcher.excludes` applies to them like to any other path and callers that read the
Dockerfile simply do not consult it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from stackup.errors import UserError

MatchInfo = tuple[bool, ...]
"""Per pattern: whether it matched a path or one of its parents (passed down a walk)."""

# fsutil: an exception holding one of these (after a trailing `/*` or `/**` is dropped)
# may match anywhere, so an excluded folder is walked in case something inside is kept.
_PATTERN_CHARS = frozenset("*[]?^\\")
_GLOB_CHARS = frozenset("*?[")

_EXACT, _PREFIX, _SUFFIX, _REGEX = range(4)


class PatternError(UserError):
    """A malformed pattern; the message names where it came from (file:line) when known."""

    def __init__(self, message: str, pattern: str):
        super().__init__(message)
        self.pattern = pattern


def clean(path: str) -> str:
    """Go's `filepath.Clean` for `/` paths: the shortest equivalent path, "." if empty."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."


def has_wildcards(name: str) -> bool:
    """Whether a COPY source holds a wildcard (`*`, `?`, `[`), `\\` escaping the next byte."""
    i = 0
    while i < len(name):
        if name[i] == "\\":
            i += 2
            continue
        if name[i] in _GLOB_CHARS:
            return True
        i += 1
    return False


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's `filepath.Match` as a regular expression matching a whole name.

    `*` and `?` never match `/`; a class may. Raises ValueError for a malformed pattern
    (an unclosed or empty class, a trailing backslash), as Go's ErrBadPattern."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            cls, i = _class(pattern, i)
            out.append(cls)
        elif ch == "\\":
            if i >= n:
                raise ValueError("trailing backslash")
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _class(pattern: str, i: int) -> tuple[str, int]:
    """Parse a class whose `[` ends at `i` (Go's filepath.Match syntax) into a regex class;
    returns it and the index after its `]`."""
    negated = i < len(pattern) and pattern[i] == "^"
    if negated:
        i += 1
    ranges: list[str] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            return "[" + ("^" if negated else "") + "".join(ranges) + "]", i + 1
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        if lo > hi:
            raise ValueError(f"bad range {lo}-{hi}")
        ranges.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """One character of a class (Go's getEsc): `-` and `]` must be escaped."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError("malformed character class")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("trailing backslash in a character class")
    if i + 1 >= len(pattern):
        raise ValueError("unclosed character class")
    return pattern[i], i + 1


class Pattern:
    """One cleaned pattern, compiled the way patternmatcher does (exact, prefix, suffix or a
    regular expression), since those shortcuts decide some corner cases (`**foo`)."""

    __slots__ = ("text", "exclusion", "_kind", "_regex", "_affix")

    def __init__(self, text: str, exclusion: bool):
        self.text = text
        self.exclusion = exclusion
        glob_regex(text)  # the syntax check patternmatcher makes with filepath.Match
        self._kind, self._regex = _compile(text)
        if self._kind == _PREFIX:
            self._affix = text[:-2]  # without the trailing **
        elif self._kind == _SUFFIX:
            self._affix = text[2:]  # without the leading **
        else:
            self._affix = text

    def __repr__(self) -> str:
        return f"Pattern({'!' if self.exclusion else ''}{self.text})"

    def match(self, path: str) -> bool:
        kind = self._kind
        if kind == _EXACT:
            return path == self._affix
        if kind == _PREFIX:
            return path.startswith(self._affix)
        if kind == _SUFFIX:
            suffix = self._affix
            # `**/foo` matches "foo" itself too
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self._regex is not None
        return self._regex.match(path) is not None

    def prefix_only(self) -> bool:
        """fsutil's test: no wildcard once a trailing `/*` or `/**` is dropped."""
        return not _PATTERN_CHARS.intersection(self.without_trailing_glob())

    def without_trailing_glob(self) -> str:
        text = self.text
        for tail in ("/**", "/*"):
            if text.endswith(tail):
                text = text[: -len(tail)]
        return text


def _compile(pattern: str) -> tuple[int, re.Pattern[str] | None]:
    """patternmatcher's translation: a match kind and, for _REGEX, the expression."""
    out = ["^"]
    kind = _EXACT
    i, n = 0, len(pattern)
    first = True
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":  # `**/` is `**`
                    i += 1
                if i >= n:  # a trailing `**` takes everything, as in .gitignore
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        out.append(".*")
                        kind = _REGEX
                else:
                    out.append("(.*/)?")  # any number of folders, none included
                    kind = _REGEX
                if first:
                    kind = _SUFFIX
            else:
                out.append("[^/]*")
                kind = _REGEX
        elif ch == "?":
            out.append("[^/]")
            kind = _REGEX
        elif ch == "\\":
            # glob_regex has refused a trailing backslash already
            out.append(re.escape(pattern[i]))
            i += 1
            kind = _REGEX
        elif ch == "[":
            cls, i = _class(pattern, i)
            out.append(cls)
            kind = _REGEX
        elif ch == "]":
            out.append(r"\]")
            kind = _REGEX
        else:
            out.append(re.escape(ch))
        first = False
    if kind != _REGEX:
        return kind, None
    return kind, re.compile("".join(out) + r"\Z", re.DOTALL)


class Matcher:
    """A list of ignore patterns; `excludes(path)` says whether a context path is hidden.

    Paths are relative to the context root, `/`-separated. An empty Matcher excludes
    nothing (and is falsy, so walkers can skip it)."""

    def __init__(self, patterns: Iterable[str], *, origin: str = "",
                 lines: Sequence[int] = (), source: Path | None = None):
        self.source = source  # the ignore file read, if any
        self.patterns: tuple[Pattern, ...] = ()
        found: list[Pattern] = []
        for index, raw in enumerate(patterns):
            where = _where(origin, lines[index] if index < len(lines) else 0)
            text = raw.strip()
            if not text:
                continue
            text = clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise PatternError(f'{where}illegal exclusion pattern: "!"', raw)
                text = text[1:]
            try:
                found.append(Pattern(text, exclusion))
            except (ValueError, re.error) as err:
                raise PatternError(f"{where}bad pattern {raw.strip()!r}: {err}", raw) from None
        self.patterns = tuple(found)
        self.has_exceptions = any(p.exclusion for p in found)
        self._prefix_only = all(p.prefix_only() for p in found if p.exclusion)
        self._exception_dirs = tuple(p.without_trailing_glob() + "/" for p in found if p.exclusion)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"Matcher({list(self.patterns)!r})"

    def excludes(self, relpath: str) -> bool:
        """Whether `relpath` (or a folder above it) is excluded. The root is never excluded.

        Computed as BuildKit's walk does, folder by folder from the root, so a single
        path gets the same answer it gets inside a walk."""
        path = clean(relpath).lstrip("/")
        if path in (".", "") or not self.patterns:
            return False
        info: MatchInfo | None = None
        excluded = False
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            excluded, info = self.matches("/".join(parts[:depth]), info)
        return excluded

    def matches(self, path: str, parent: MatchInfo | None) -> tuple[bool, MatchInfo]:
        """patternmatcher's MatchesUsingParentResults: whether `path` is excluded, given its
        parent folder's MatchInfo (None for a path at the top, or when it is unknown: then
        every parent folder is tested). Returns the MatchInfo to pass to its children."""
        matched = False
        info: list[bool] = []
        for index, pattern in enumerate(self.patterns):
            match = parent[index] if parent else False
            if not match:
                # An inclusion is skipped once the path is excluded, an exception until it is.
                if pattern.exclusion != matched:
                    info.append(False)
                    continue
                match = pattern.match(path)
                if not match and parent is None:
                    match = _parent_matches(pattern, path)
            info.append(match)
            if match:
                matched = not pattern.exclusion
        return matched, tuple(info)

    def may_include_below(self, dirpath: str) -> bool:
        """Whether an excluded folder must still be walked: an exception could bring back
        something inside it (fsutil's rule: any exception with a wildcard may; otherwise
        only one that names a path under this folder)."""
        if not self.has_exceptions:
            return False
        if not self._prefix_only:
            return True
        prefix = dirpath.rstrip("/") + "/"
        return any(text.startswith(prefix) for text in self._exception_dirs)


def _parent_matches(pattern: Pattern, path: str) -> bool:
    end = path.find("/")
    while end != -1:
        if pattern.match(path[:end]):
            return True
        end = path.find("/", end + 1)
    return False


def _where(origin: str, line: int) -> str:
    if origin and line:
        return f"{origin}:{line}: "
    return f"{origin}: " if origin else ""


def parse_ignore(text: str) -> list[tuple[int, str]]:
    """The patterns of an ignore file with their line numbers (moby's ignorefile.ReadAll):
    a BOM dropped, `#` lines skipped (only when `#` is the first character), blanks
    trimmed, a pattern cleaned and its leading `/` dropped (`!` kept in front)."""
    found: list[tuple[int, str]] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        found.append((number, "!" + pattern if invert else pattern))
    return found


def ignore_file(context: Path, dockerfile: Path | None) -> Path | None:
    """The ignore file that applies: `<Dockerfile>.dockerignore` beside the Dockerfile wins
    over `<context>/.dockerignore`; None when neither exists."""
    if dockerfile is not None:
        specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
        if specific.is_file():
            return specific
    general = context / ".dockerignore"
    return general if general.is_file() else None


def read_ignore(context: Path, dockerfile: Path | None) -> Matcher:
    """The Matcher of the build: the ignore file `ignore_file` picks, or an empty Matcher.
    A bad pattern is a PatternError naming the file and line."""
    path = ignore_file(context, dockerfile)
    if path is None:
        return Matcher(())
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as err:
        raise UserError(f"{path}: cannot read: {err.strerror}") from None
    parsed = parse_ignore(text)
    return Matcher([p for _, p in parsed], origin=str(path), lines=[n for n, _ in parsed], source=path)
