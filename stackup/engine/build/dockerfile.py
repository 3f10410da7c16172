"""The Dockerfile parser: text -> a list of nodes, one per instruction, as BuildKit's parser splits it.

This is the syntax layer only: directives, comments, line continuations, the instruction
keyword, its `--flags`, the rest of the line (raw), the JSON (exec) form when the rest is a
JSON string array, and heredoc bodies. What each instruction means is `instructions.py`;
variable expansion is `shellwords.py`.

BuildKit's rules kept here (they surprise people, so they are spelled out):
- parser directives (`# syntax=`, `# escape=`, `# check=`) count only in the comment lines at
  the very top; the first other line (even a blank one or another comment) ends them;
- a comment line inside a continuation is dropped, so is an empty continuation line;
- a line ending with the escape token continues on the next one (also at the end of file);
- a JSON form that is not valid JSON is the shell form; a JSON array of non-strings is an error;
- heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) only for RUN, COPY and ADD (and ONBUILD of those);
- a `--flag` counts only before the first argument.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from stackup.engine.build import shellwords
from stackup.errors import UserError


class DockerfileError(UserError):
    """A Dockerfile the builder refuses; the text starts `<filename>:<line>: `."""

    def __init__(self, message: str, *, filename: str = "Dockerfile", line: int = 0) -> None:
        super().__init__(f"{filename}:{line}: {message}")
        self.filename = filename
        self.line = line
        self.detail = message


@dataclass(frozen=True)
class Heredoc:
    """A here-document: `name` is the delimiter (quotes removed); `content` the body as written
    (each line with its line ending); `expand` is False when the delimiter was quoted;
    `chomp` for `<<-` (leading tabs of each line are to be stripped: see `data`)."""

    name: str
    content: str
    expand: bool = True
    chomp: bool = False

    @property
    def data(self) -> str:
        """The body with `<<-`'s leading tabs removed."""
        return _LEADING_TABS.sub("", self.content) if self.chomp else self.content


_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


@dataclass
class Node:
    """One instruction as written.

    `flags` are the raw `--name=value` texts before the arguments, `args` the rest of the
    instruction (continuations joined, flags removed), `json` the exec form's strings when
    `args` (for HEALTHCHECK: what follows its type word) is a JSON string array, `child` the
    instruction an ONBUILD wraps."""

    line: int  # 1-based first line
    end_line: int  # last line, heredoc bodies included
    keyword: str  # upper-case
    flags: list[str]
    args: str
    json: list[str] | None
    heredocs: list[Heredoc]
    original: str  # the instruction's line(s) as one line, without heredoc bodies
    filename: str = "Dockerfile"
    escape: str = "\\"
    child: Node | None = None

    def error(self, message: str) -> DockerfileError:
        return DockerfileError(message, filename=self.filename, line=self.line)


@dataclass
class Dockerfile:
    nodes: list[Node]
    directives: dict[str, str] = field(default_factory=dict)  # syntax, escape, check
    escape: str = "\\"
    filename: str = "Dockerfile"
    warnings: list[str] = field(default_factory=list)


KNOWN_KEYWORDS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
# the rest is a JSON string array (exec form) or text
_MAYBE_JSON = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "ADD", "COPY", "VOLUME"})
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})

_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$")
_SPLIT_COMMAND = re.compile(r"[\t\v\f\r ]+")
# `docker/dockerfile:1`, `:1.7`, `:1-labs`, `docker.io/docker/dockerfile:1.7@sha256:...`
_BUILTIN_SYNTAX = re.compile(
    r"^(?:(?:docker\.io|index\.docker\.io)/)?docker/dockerfile(?:-upstream)?"
    r"(?::1(?:[.\-][0-9A-Za-z.\-]*)?)?(?:@sha256:[0-9a-f]{64})?$"
)


def parse(text: str, filename: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile's text; raises DockerfileError naming `filename:line`."""
    return _Parser(text, filename).run()


def parse_line(line: str, *, filename: str = "Dockerfile", escape: str = "\\", line_number: int = 0) -> Node:
    """One instruction from one line (e.g. an ONBUILD trigger stored in an image's config)."""
    parser = _Parser("", filename)
    parser.escape = escape
    return parser.node(line, line_number, line_number)


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        # not str.splitlines: it also breaks on \v, \f, \x1c.. and \u2028; BuildKit only on \n
        self.lines = _split_on_newlines(text)
        self.pos = 0
        self.directives: dict[str, str] = {}
        self.directives_done = False
        self.directive_line = 0
        self.warnings: list[str] = []
        self.set_escape("\\")

    def fail(self, message: str, line: int) -> DockerfileError:
        return DockerfileError(message, filename=self.filename, line=line)

    def set_escape(self, token: str) -> None:
        self.escape = token
        e = re.escape(token)
        # an escape token ending the line continues it, unless it is itself escaped
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")

    # -- directives --------------------------------------------------------------------
    def directive(self, line: str) -> bool:
        """Whether `line` is a parser directive (and apply it); every line passes here, as in
        BuildKit, so the first line that is not one ends the directives."""
        self.directive_line += 1
        if self.directives_done:
            return False
        if not line.startswith("#"):
            self.directives_done = True
            return False
        match = _DIRECTIVE.match(line[1:].lstrip())
        key = match.group(1).lower() if match else ""
        if not match or key not in _DIRECTIVES:
            self.directives_done = True
            return False
        if key in self.directives:
            raise self.fail(f"only one {key} parser directive can be used", self.directive_line)
        value = match.group(2)
        self.directives[key] = value
        if key == "escape":
            if value not in ("\\", "`"):
                raise self.fail(f"invalid escape token '{value}' does not match ` or \\", self.directive_line)
            self.set_escape(value)
        elif key == "syntax":
            frontend = value.split(" ", 1)[0]
            if not _BUILTIN_SYNTAX.match(frontend):
                raise self.fail(
                    f"# syntax={frontend}: only the built-in Dockerfile frontend "
                    "(docker/dockerfile:1...) is supported; other frontend images are not",
                    self.directive_line,
                )
        return True

    def process(self, raw: str, *, strip_left: bool) -> str:
        line = _trim_newline(raw)
        if strip_left:
            line = line.lstrip()
        self.directive(line)
        return "" if _is_comment(line) else line

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """The line without its continuation token, and whether the instruction ends here."""
        if self.continuation.search(line):
            return self.continuation.sub(lambda m: m.group(1) or "", line, count=1), False
        return line, True

    # -- the main loop ------------------------------------------------------------------
    def run(self) -> Dockerfile:
        nodes: list[Node] = []
        current = 0
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            self.pos += 1
            if current == 0:
                raw = raw.removeprefix("\ufeff")
            line = self.process(raw, strip_left=True)
            current += 1
            start = current
            line, ended = self.trim_continuation(line)
            if ended and not line:
                continue
            parts = [line]
            empty_continuation = False
            while not ended and self.pos < len(self.lines):
                raw = self.lines[self.pos]
                self.pos += 1
                line = self.process(raw, strip_left=False)
                current += 1
                if _is_comment(raw):
                    continue
                if not line.strip():
                    empty_continuation = True
                    continue
                line, ended = self.trim_continuation(line)
                parts.append(line)
            text = "".join(parts)
            if empty_continuation:
                self.warnings.append(f"{self.filename}:{current}: empty continuation line in: {text}")
            node = self.node(text, start, current)
            holder = node.child if node.keyword == "ONBUILD" and node.child else node
            if holder.keyword in _HEREDOC_KEYWORDS and holder.json is None and "<<" in text:
                current = self.read_heredocs(node, holder, text, start, current)
            node.end_line = current
            nodes.append(node)
        if not nodes:
            raise self.fail("file with no instructions", max(current, 1))
        return Dockerfile(
            nodes=nodes, directives=dict(self.directives), escape=self.escape,
            filename=self.filename, warnings=self.warnings,
        )

    def read_heredocs(self, node: Node, holder: Node, text: str, start: int, current: int) -> int:
        heredocs: list[Heredoc] = []
        for name, expand, chomp in _heredocs_in(text):
            body: list[str] = []
            while self.pos < len(self.lines):
                raw = self.lines[self.pos]
                self.pos += 1
                current += 1
                candidate = _trim_newline(raw)
                if chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == name:
                    break
                body.append(raw)
            else:
                raise self.fail(f"{node.keyword}: unterminated heredoc <<{name}", start)
            heredocs.append(Heredoc(name=name, content="".join(body), expand=expand, chomp=chomp))
        node.heredocs = heredocs
        if holder is not node:
            holder.heredocs = heredocs
        return current

    # -- one instruction ----------------------------------------------------------------
    def node(self, text: str, start: int, end: int) -> Node:
        parts = _SPLIT_COMMAND.split(text.strip(), maxsplit=1)
        keyword = parts[0].upper()
        flags: list[str] = []
        rest = ""
        if len(parts) == 2:
            rest, flags = _extract_flags(parts[1], self.escape)
        rest = rest.strip()
        node = Node(
            line=start, end_line=end, keyword=keyword, flags=flags, args=rest, json=None,
            heredocs=[], original=text, filename=self.filename, escape=self.escape,
        )
        if keyword in _MAYBE_JSON:
            node.json = self.exec_form(node, rest)
        elif keyword == "HEALTHCHECK":
            # HEALTHCHECK CMD ["x"]: the exec form follows the type word
            typ, command = _first_word(rest)
            node.json = self.exec_form(node, command) if typ else None
        elif keyword == "ONBUILD" and rest:
            node.child = self.node(rest, start, end)
        return node

    def exec_form(self, node: Node, rest: str) -> list[str] | None:
        """The JSON string array `rest` spells, None when it is not JSON (the shell form)."""
        rest = rest.lstrip()
        if not rest.startswith("["):
            return None
        try:
            value = json.loads(rest, parse_constant=_no_constant)
        except ValueError:
            return None
        if not isinstance(value, list):
            return None
        if not all(isinstance(item, str) for item in value):
            raise node.error(
                f"{node.keyword}: when using JSON array syntax, arrays must be comprised of strings only"
            )
        return value


def _first_word(text: str) -> tuple[str, str]:
    end = 0
    while end < len(text) and not shellwords._is_space(text[end]):
        end += 1
    return text[:end], text[end:].lstrip()


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")  # Python's json takes NaN/Infinity, Go's does not


def _split_on_newlines(text: str) -> list[str]:
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading `--name[=value]` words (quotes and escapes processed) and the rest of the line.
    A word not starting with `--` ends the flags, and so does a lone `--`."""
    flags: list[str] = []
    i = 0
    n = len(line)
    while True:
        while i < n and shellwords._is_space(line[i]):
            i += 1
        if i == n:
            return "", flags
        if not line.startswith("--", i):
            return line[i:], flags
        word: list[str] = []
        blank_ok = False
        quote = ""
        while i < n:
            ch = line[i]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == escape:
                    if i + 1 == n:
                        quote = ""
                        i += 1
                        continue
                    i += 1
                    word.append(line[i])
                else:
                    word.append(ch)
                i += 1
                continue
            if shellwords._is_space(ch):
                break
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
            elif ch == escape:
                if i + 1 < n:
                    i += 1
                    word.append(line[i])
            else:
                word.append(ch)
            i += 1
        text = "".join(word)
        if text == "--":
            return line[i:], flags
        if blank_ok or text:
            flags.append(text)


def _heredocs_in(line: str) -> list[tuple[str, bool, bool]]:
    """The heredocs an instruction line opens, in order: (delimiter, expand, chomp)."""
    found: list[tuple[str, bool, bool]] = []
    for word in shellwords.raw_words(line):
        heredoc = parse_heredoc_word(word)
        if heredoc is not None:
            found.append(heredoc)
    return found


def parse_heredoc_word(word: str) -> tuple[str, bool, bool] | None:
    """(delimiter, expand, chomp) when `word` is a heredoc opener like `<<EOF`, `<<-"EOF"`."""
    match = _HEREDOC_WORD.match(word)
    if not match or not match.group(3):
        return None
    try:
        named = shellwords.heredoc_name(match.group(3))
    except shellwords.WordsError:
        return None
    if named is None:
        return None
    name, expand = named
    return name, expand, match.group(2) == "-"
