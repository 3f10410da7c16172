"""Typed Dockerfile instructions, the split into stages, and ARG scoping, as BuildKit defines them.

`parse_instruction(node)` checks an instruction the way Docker does (argument counts, flags,
JSON forms) and returns a typed value holding the text UNEXPANDED. `.expanded(env)` returns a
copy with Docker's variable expansion applied exactly where Docker applies it (never in RUN,
CMD, ENTRYPOINT, SHELL or HEALTHCHECK bodies: their shell does that); `env` is what the
instruction sees: the stage's ENV and the ARGs in scope. All the values of one instruction are
expanded against the same `env` (`ENV A=1 B=$A` gives B the *previous* A, as in Docker).

ARG scoping: an ARG before the first FROM (a meta ARG) is seen by FROM lines only
(`meta_arg_values`); inside a stage `ARG NAME` without a default takes the meta value
(`stage_arg_values`). The predefined platform args (`platform_args`) are meta values;
the proxy args (`PROXY_ARGS`) may be passed without being declared and reach RUN only.
"""

from __future__ import annotations

import csv
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Self, TypedDict

from stackup.engine.build import shellwords
from stackup.engine.build.dockerfile import Dockerfile, DockerfileError, Heredoc, Node, parse, parse_heredoc_word
from stackup.engine.images.platform import Platform
from stackup.errors import UserError

PIPES_DIR = "/dev/pipes"  # where a RUN heredoc script with a shebang is mounted (as BuildKit)

PROXY_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


# -- the instructions ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Instruction:
    keyword: str
    line: int
    end_line: int
    original: str  # the instruction as written (continuations joined), for history and errors
    filename: str = field(default="Dockerfile", repr=False, compare=False)
    escape: str = field(default="\\", repr=False, compare=False)

    def expanded(self, env: Mapping[str, str]) -> Self:
        """A copy with Docker's variable expansion applied (itself when Docker expands nothing)."""
        return self

    def error(self, message: str) -> DockerfileError:
        return DockerfileError(_named(self.keyword, message), filename=self.filename, line=self.line)

    def _expand(self, word: str, env: Mapping[str, str]) -> str:
        try:
            return shellwords.expand(word, env, self.escape)
        except shellwords.WordsError as error:
            raise self.error(str(error)) from None


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    image: str  # an image reference, `scratch`, or an earlier stage's name
    name: str | None = None  # the `AS name`, lower-cased
    platform: str = ""  # --platform

    def expanded(self, env: Mapping[str, str]) -> Self:
        """`env`: the meta ARG values (`meta_arg_values`), which FROM lines see."""
        image = self._expand(self.image, env)
        if not image:
            raise self.error(f"base name ({self.image}) should not be blank")
        platform = self._expand(self.platform, env) if self.platform else ""
        if self.platform and not platform:
            raise self.error(f"empty platform value from expression {self.platform}")
        return replace(self, image=image, platform=platform)


@dataclass(frozen=True)
class MountSpec:
    """A parsed `RUN --mount=...`. Defaults filled as BuildKit fills them: a cache's id is its
    target; a secret's id is its source, id or target's base name, its target
    /run/secrets/<id> unless it goes to an env variable; read-only unless cache or tmpfs."""

    type: str  # bind | cache | tmpfs | secret
    target: str = ""
    source: str = ""
    from_: str = ""  # a stage, image or context name (bind, cache)
    id: str = ""
    sharing: str = ""  # cache: shared (default) | private | locked
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    readonly: bool = False
    required: bool = False  # secret
    size: int = 0  # tmpfs, bytes
    env: str | None = None  # secret: exposed as this env variable


@dataclass(frozen=True)
class RunScript:
    """What a RUN executes: `argv`, and `pipe` (a heredoc with a shebang, to be provided as an
    executable file at PIPES_DIR/<name>) or None."""

    argv: list[str]
    pipe: Heredoc | None = None


@dataclass(frozen=True, kw_only=True)
class Run(Instruction):
    command: str | list[str]  # shell form: the text; exec form: the argv
    shell_form: bool
    heredocs: list[Heredoc] = field(default_factory=list)
    mount_texts: list[str] = field(default_factory=list)  # the raw --mount values
    mounts: list[MountSpec] = field(default_factory=list)  # filled by expanded() (values expand)
    network: str = "default"  # default | none | host
    security: str = "sandbox"

    def expanded(self, env: Mapping[str, str]) -> Self:
        """Only the --mount values expand; the command is the shell's business."""
        mounts = [self._mount(text, lambda word: self._expand(word, env)) for text in self.mount_texts]
        return replace(self, mounts=mounts)

    def _mount(self, text: str, expand: Callable[[str], str] | None) -> MountSpec:
        try:
            return parse_mount(text, expand)
        except _Refused as error:
            raise self.error(f"--mount={text}: {error}") from None

    def script(self, shell: Sequence[str]) -> RunScript:
        """The process to run with the stage's SHELL, heredocs resolved as BuildKit does:
        `RUN <<EOF` alone runs the body with the shell (or as a script when it starts with
        `#!`); other heredoc uses pass the command and bodies to the shell as written."""
        if not self.shell_form:
            assert isinstance(self.command, list)
            return RunScript(argv=list(self.command))
        assert isinstance(self.command, str)
        if not self.heredocs:
            return RunScript(argv=[*shell, self.command])
        if parse_heredoc_word(self.command) is not None:
            first = self.heredocs[0]
            if first.data.startswith("#!"):
                return RunScript(argv=[*shell, posixpath.join(PIPES_DIR, first.name)], pipe=first)
            return RunScript(argv=[*shell, first.data])
        text = self.command + "".join(f"\n{h.content}{h.name}" for h in self.heredocs)
        return RunScript(argv=[*shell, text])


@dataclass(frozen=True, kw_only=True)
class Copy(Instruction):
    sources: list[str]  # paths/patterns (heredoc sources are in `heredocs`)
    dest: str
    heredocs: list[Heredoc] = field(default_factory=list)  # inline files: name is the file name
    from_: str = ""
    chown: str = ""
    chmod: str = ""  # octal text
    link: bool = False
    parents: bool = False
    exclude: list[str] = field(default_factory=list)

    def expanded(self, env: Mapping[str, str]) -> Self:
        """Sources, dest, --chown and --chmod expand (not --from, not --exclude: as Docker);
        heredoc bodies with an unquoted delimiter expand too, and come out with `<<-`'s tabs
        already stripped (use `.data` or `.content`: they are equal)."""
        return replace(self, **_copied_expanded(self, env))


@dataclass(frozen=True, kw_only=True)
class Add(Instruction):
    sources: list[str]  # paths/patterns or http(s) URLs
    dest: str
    heredocs: list[Heredoc] = field(default_factory=list)
    chown: str = ""
    chmod: str = ""
    link: bool = False
    exclude: list[str] = field(default_factory=list)
    checksum: str = ""  # of a URL source, e.g. sha256:<hex>
    unpack: bool | None = None  # --unpack: None = Docker's default (local tars unpack, URLs do not)
    keep_git_dir: bool = False  # git sources are not supported: True is refused at parse

    def expanded(self, env: Mapping[str, str]) -> Self:
        return replace(self, **_copied_expanded(self, env), checksum=self._expand(self.checksum, env))


def _copied_expanded(ins: Copy | Add, env: Mapping[str, str]) -> dict[str, Any]:
    """What COPY and ADD both expand: sources, dest, --chown, --chmod, heredoc bodies."""
    return {"sources": [ins._expand(s, env) for s in ins.sources],
            "dest": ins._expand(ins.dest, env),
            "chown": ins._expand(ins.chown, env),
            "chmod": _checked_chmod(ins, ins._expand(ins.chmod, env)),
            "heredocs": [_expanded_heredoc(ins, h, env) for h in ins.heredocs]}


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    path: str

    def expanded(self, env: Mapping[str, str]) -> Self:
        return replace(self, path=self._expand(self.path, env))


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    pairs: list[tuple[str, str]]

    def expanded(self, env: Mapping[str, str]) -> Self:
        return replace(self, pairs=[(self._expand(k, env), self._expand(v, env)) for k, v in self.pairs])


@dataclass(frozen=True, kw_only=True)
class Label(Instruction):
    pairs: list[tuple[str, str]]

    def expanded(self, env: Mapping[str, str]) -> Self:
        return replace(self, pairs=[(self._expand(k, env), self._expand(v, env)) for k, v in self.pairs])


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    args: list[tuple[str, str | None]]  # name, default (None: no default)

    def expanded(self, env: Mapping[str, str]) -> Self:
        """Defaults expanded (names never are). Prefer `stage_arg_values`/`meta_arg_values`,
        which expand a default only when no build arg overrides it (as Docker)."""
        return replace(self, args=[(k, None if v is None else self._expand(v, env)) for k, v in self.args])


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    user: str  # user[:group]

    def expanded(self, env: Mapping[str, str]) -> Self:
        return replace(self, user=self._expand(self.user, env))


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    ports: list[str]  # as written: 80, 80/udp, 8000-8010/tcp (see `exposed_ports`)

    def expanded(self, env: Mapping[str, str]) -> Self:
        ports: list[str] = []
        for port in self.ports:
            try:
                ports.extend(shellwords.expand_words(port, env, self.escape))
            except shellwords.WordsError as error:
                raise self.error(str(error)) from None
        return replace(self, ports=ports)


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    paths: list[str]

    def expanded(self, env: Mapping[str, str]) -> Self:
        return replace(self, paths=[self._expand(p, env) for p in self.paths])


@dataclass(frozen=True, kw_only=True)
class Cmd(Instruction):
    command: str | list[str]  # shell form: the text (to run with the SHELL); exec form: argv
    shell_form: bool


@dataclass(frozen=True, kw_only=True)
class Entrypoint(Instruction):
    command: str | list[str]  # exec form `ENTRYPOINT []` is [] (clears it)
    shell_form: bool


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    """`test` as the image config holds it: ["NONE"], ["CMD", argv...] or ["CMD-SHELL", text].
    Durations in nanoseconds (the config's unit), 0 = not set."""

    test: list[str]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    shell: list[str]


@dataclass(frozen=True, kw_only=True)
class StopSignal(Instruction):
    signal: str

    def expanded(self, env: Mapping[str, str]) -> Self:
        return replace(self, signal=self._expand(self.signal, env))


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    name: str


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    """`expression` is what the image config's OnBuild list holds (heredoc bodies included);
    `trigger()` parses it (as a child build does)."""

    expression: str

    def trigger(self) -> Instruction:
        return parse_trigger(self.expression, filename=self.filename)


@dataclass
class Stage:
    index: int
    name: str | None  # lower-cased AS name
    from_: From
    instructions: list[Instruction]
    line: int


# -- parsing ---------------------------------------------------------------------------------
def parse_instruction(node: Node) -> Instruction:
    """The typed instruction of a node; DockerfileError (`Dockerfile:LINE: KEYWORD ...`)."""
    parser = _PARSERS.get(node.keyword)
    if parser is None:
        raise node.error(f"unknown instruction: {node.keyword}")
    try:
        return parser(node)
    except _Refused as error:
        raise node.error(_named(node.keyword, str(error))) from None
    except shellwords.WordsError as error:
        raise node.error(_named(node.keyword, str(error))) from None


def parse_trigger(expression: str, *, filename: str = "Dockerfile") -> Instruction:
    """An ONBUILD trigger (from an Onbuild or a base image's config) as an instruction."""
    nodes = parse(expression, filename).nodes
    if len(nodes) != 1:
        raise DockerfileError(f"ONBUILD trigger {expression!r} is not one instruction", filename=filename)
    return parse_instruction(nodes[0])


def split_stages(dockerfile: Dockerfile) -> tuple[list[Arg], list[Stage]]:
    """Every instruction parsed (so any error shows before building), the meta ARGs before
    the first FROM, and the stages."""
    meta: list[Arg] = []
    stages: list[Stage] = []
    names: set[str] = set()
    for node in dockerfile.nodes:
        instruction = parse_instruction(node)
        if isinstance(instruction, From):
            if instruction.name is not None:
                if instruction.name in names:
                    raise instruction.error(f"duplicate stage name {instruction.name!r}")
                names.add(instruction.name)
            stages.append(Stage(
                index=len(stages), name=instruction.name, from_=instruction,
                instructions=[], line=instruction.line,
            ))
        elif not stages:
            if not isinstance(instruction, Arg):
                raise instruction.error("no build stage in current context (only ARG may come before the first FROM)")
            meta.append(instruction)
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError("no FROM instruction", filename=dockerfile.filename, line=dockerfile.nodes[-1].line)
    return meta, stages


class _Refused(UserError):
    """An instruction's arguments or flags Docker refuses; parse_instruction adds where
    (a UserError so a direct caller of parse_mount still gets one)."""


def _named(keyword: str, message: str) -> str:
    return message if message.split(" ", 1)[0].upper().startswith(keyword) else f"{keyword}: {message}"


class _Common(TypedDict):
    keyword: str
    line: int
    end_line: int
    original: str
    filename: str
    escape: str


def _base(node: Node) -> _Common:
    return {
        "keyword": node.keyword, "line": node.line, "end_line": node.end_line,
        "original": node.original, "filename": node.filename, "escape": node.escape,
    }


def _whitespace_words(text: str) -> list[str]:
    return [w for w in _WHITESPACE.split(text) if w] if text else []


def _list_args(node: Node) -> list[str]:
    """ADD/COPY/VOLUME: the JSON array, else whitespace-separated words (quotes not grouped)."""
    return list(node.json) if node.json is not None else _whitespace_words(node.args)


def _one_arg(node: Node) -> str:
    if not node.args:
        raise _Refused(f"{node.keyword} requires exactly one argument")
    return node.args


def _command(node: Node) -> tuple[str | list[str], bool]:
    if node.json is not None:
        return list(node.json), False
    return node.args, True


class _Flags:
    """BuildKit's flag rules: `--name=value`, booleans as `--name`/`--name=true|false`,
    repeatable string lists, unknown and duplicate flags refused."""

    def __init__(self, node: Node, kinds: Mapping[str, str] | None = None) -> None:
        kinds = kinds or {}
        self.values: dict[str, str | bool | list[str]] = {}
        for raw in node.flags:
            if raw == "--":
                break
            if not raw.startswith("--"):
                raise _Refused(f"arg should start with -- : {raw}")
            name, has_value, value = raw.partition("=")
            key = name[2:]
            kind = kinds.get(key)
            if kind is None:
                raise _Refused(f"unknown flag: {name}")
            if key in self.values and kind != "strings":
                raise _Refused(f"duplicate flag specified: {name}")
            if kind == "bool":
                if has_value and value == "":
                    raise _Refused(f"missing a value on flag: {name}")
                if value.lower() not in ("", "true", "false"):
                    raise _Refused(f"expecting boolean value for flag {name}, not: {value}")
                self.values[key] = value.lower() != "false"
            elif not has_value:
                raise _Refused(f"missing a value on flag: {name}")
            elif kind == "strings":
                listed = self.values.setdefault(key, [])
                assert isinstance(listed, list)
                listed.append(value)
            else:
                self.values[key] = value

    def text(self, key: str, default: str = "") -> str:
        value = self.values.get(key, default)
        assert isinstance(value, str)
        return value

    def on(self, key: str) -> bool:
        return self.values.get(key) is True

    def texts(self, key: str) -> list[str]:
        value = self.values.get(key, [])
        assert isinstance(value, list)
        return value


def _parse_from(node: Node) -> From:
    flags = _Flags(node, {"platform": "string"})
    args = _whitespace_words(node.args)
    name: str | None = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise _Refused(f"invalid name for build stage: {args[2]!r}, name can't start with a number or contain symbols")
    elif len(args) != 1:
        raise _Refused("FROM requires either one or three arguments")
    return From(**_base(node), image=args[0], name=name, platform=flags.text("platform"))


def _parse_run(node: Node) -> Run:
    flags = _Flags(node, {"mount": "strings", "network": "string", "security": "string"})
    network = flags.text("network", "default")
    if network not in ("default", "none", "host"):
        raise _Refused(f"invalid network mode {network!r} (default, none or host)")
    security = flags.text("security", "sandbox")
    if security == "insecure":
        raise _Refused("--security=insecure is not supported: stackup runs build steps with the default security profile")
    if security != "sandbox":
        raise _Refused(f"security {security!r} is not valid")
    mount_texts = flags.texts("mount")
    for text in mount_texts:
        if "$" not in text:  # checked now when nothing waits for expansion
            try:
                parse_mount(text, lambda word: word)
            except _Refused as error:
                raise _Refused(f"--mount={text}: {error}") from None
        else:
            parse_mount(text, None)
    command, shell_form = _command(node)
    if not command and shell_form:
        raise _Refused("RUN requires at least one argument")
    return Run(
        **_base(node), command=command, shell_form=shell_form, heredocs=list(node.heredocs),
        mount_texts=mount_texts, network=network, security=security,
    )


def _sources_and_dest(node: Node) -> tuple[list[str], str, list[Heredoc]]:
    args = _list_args(node)
    if len(args) < 2:
        raise _Refused(f"{node.keyword} requires at least two arguments, but only one was provided. Destination could not be determined")
    *sources, dest = args
    if parse_heredoc_word(dest) is not None:
        raise _Refused(f"{node.keyword} cannot accept a heredoc as a destination")
    bodies = {h.name: h for h in node.heredocs}
    paths: list[str] = []
    inline: list[Heredoc] = []
    for source in sources:
        opener = parse_heredoc_word(source)
        if opener is None:
            paths.append(source)
            continue
        name, expand, chomp = opener
        body = bodies.get(name)
        inline.append(Heredoc(name=name, content=body.content if body else "", expand=expand, chomp=chomp))
    return paths, dest, inline


def _parse_copy(node: Node) -> Copy:
    flags = _Flags(node, {"from": "string", "chown": "string", "chmod": "string", "link": "bool",
                          "parents": "bool", "exclude": "strings"})
    sources, dest, inline = _sources_and_dest(node)
    from_ = flags.text("from")
    if from_ and shellwords.expand(from_, {}, node.escape) != from_:
        raise _Refused("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
    chmod = flags.text("chmod")
    if "$" not in chmod:
        _check_octal(node.keyword, chmod)
    return Copy(
        **_base(node), sources=sources, dest=dest, heredocs=inline, from_=from_,
        chown=flags.text("chown"), chmod=chmod, link=flags.on("link"),
        parents=flags.on("parents"), exclude=flags.texts("exclude"),
    )


def _parse_add(node: Node) -> Add:
    flags = _Flags(node, {"chown": "string", "chmod": "string", "link": "bool", "keep-git-dir": "bool",
                          "checksum": "string", "unpack": "bool", "exclude": "strings"})
    sources, dest, inline = _sources_and_dest(node)
    if flags.on("keep-git-dir"):
        raise _Refused("--keep-git-dir is not supported: stackup does not ADD git repositories")
    chmod = flags.text("chmod")
    if "$" not in chmod:
        _check_octal(node.keyword, chmod)
    unpack = flags.values.get("unpack")
    return Add(
        **_base(node), sources=sources, dest=dest, heredocs=inline, chown=flags.text("chown"),
        chmod=chmod, link=flags.on("link"), exclude=flags.texts("exclude"),
        checksum=flags.text("checksum"), unpack=unpack if isinstance(unpack, bool) else None,
        keep_git_dir=False,
    )


def _check_octal(keyword: str, chmod: str) -> None:
    if chmod and not (re.fullmatch(r"[0-7]+", chmod) and int(chmod, 8) <= 0o7777):
        raise _Refused(f"{keyword} --chmod={chmod}: only octal modes (like 0755) are supported")


def _checked_chmod(instruction: Instruction, chmod: str) -> str:
    try:
        _check_octal(instruction.keyword, chmod)
    except _Refused as error:
        raise instruction.error(str(error)) from None
    return chmod


def _expanded_heredoc(instruction: Instruction, heredoc: Heredoc, env: Mapping[str, str]) -> Heredoc:
    data = heredoc.data
    if heredoc.expand:
        try:
            data = shellwords.expand_heredoc(data, env)
        except shellwords.WordsError as error:
            raise instruction.error(str(error)) from None
    return replace(heredoc, content=data, chomp=False)


def _parse_key_values(node: Node) -> list[tuple[str, str]]:
    _Flags(node)
    pairs = shellwords.split_key_values(node.args, node.escape, keyword=node.keyword)
    if not pairs:
        raise _Refused(f"{node.keyword} requires at least one argument")
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        if not key:
            raise _Refused(f"{node.keyword} names can not be blank")
        out.append((key, value or ""))
    return out


def _parse_env(node: Node) -> Env:
    return Env(**_base(node), pairs=_parse_key_values(node))


def _parse_label(node: Node) -> Label:
    return Label(**_base(node), pairs=_parse_key_values(node))


def _parse_arg(node: Node) -> Arg:
    _Flags(node)
    args = shellwords.split_key_values(node.args, node.escape, keyword="ARG")
    if not args:
        raise _Refused("ARG requires at least one argument")
    if any(not key for key, _ in args):
        raise _Refused("ARG names can not be blank")
    return Arg(**_base(node), args=args)


def _one_arg_parser(cls: type[Instruction], field_name: str) -> Callable[[Node], Instruction]:
    """The parser of an instruction with no flags and one argument (WORKDIR, USER, ...)."""
    def parse(node: Node) -> Instruction:
        _Flags(node)
        return cls(**_base(node), **{field_name: _one_arg(node)})
    return parse


def _parse_expose(node: Node) -> Expose:
    _Flags(node)
    ports = _whitespace_words(node.args)
    if not ports:
        raise _Refused("EXPOSE requires at least one argument")
    return Expose(**_base(node), ports=ports)


def _parse_volume(node: Node) -> Volume:
    _Flags(node)
    paths = [p.strip() for p in _list_args(node)]
    if not paths:
        raise _Refused("VOLUME requires at least one argument")
    if any(not p for p in paths):
        raise _Refused("VOLUME specified can not be an empty string")
    return Volume(**_base(node), paths=paths)


def _parse_cmd(node: Node) -> Cmd:
    _Flags(node)
    command, shell_form = _command(node)
    return Cmd(**_base(node), command=command, shell_form=shell_form)


def _parse_entrypoint(node: Node) -> Entrypoint:
    _Flags(node)
    command, shell_form = _command(node)
    return Entrypoint(**_base(node), command=command, shell_form=shell_form)


def _parse_shell(node: Node) -> Shell:
    _Flags(node)
    if node.json is None:
        if not node.args:
            raise _Refused("SHELL requires at least one argument")
        raise _Refused("SHELL requires the arguments to be in JSON form")
    if not node.json:
        raise _Refused("SHELL requires at least one argument")
    return Shell(**_base(node), shell=list(node.json))


def _parse_healthcheck(node: Node) -> Healthcheck:
    if not node.args:
        raise _Refused("HEALTHCHECK requires at least one argument")
    words = node.args.split(None, 1)
    typ = words[0].upper()
    rest = words[1] if len(words) == 2 else ""
    if typ == "NONE":
        if rest:
            raise _Refused("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(**_base(node), test=["NONE"])
    flags = _Flags(node, {"interval": "string", "timeout": "string", "start-period": "string",
                          "start-interval": "string", "retries": "string"})
    if typ != "CMD":
        raise _Refused(f"Unknown type {typ!r} in HEALTHCHECK (try CMD)")
    if node.json is not None:
        if not node.json:
            raise _Refused("Missing command after HEALTHCHECK CMD")
        test = ["CMD", *node.json]
    else:
        if not rest:
            raise _Refused("Missing command after HEALTHCHECK CMD")
        test = ["CMD-SHELL", rest]
    retries = 0
    if flags.text("retries"):
        try:
            retries = int(flags.text("retries"))
        except ValueError:
            raise _Refused(f"--retries={flags.text('retries')}: not a number") from None
        if retries < 0:
            raise _Refused(f"--retries cannot be negative ({retries})")
    return Healthcheck(
        **_base(node), test=test,
        interval=_interval(flags, "interval"), timeout=_interval(flags, "timeout"),
        start_period=_interval(flags, "start-period"), start_interval=_interval(flags, "start-interval"),
        retries=retries,
    )


def _interval(flags: _Flags, key: str) -> int:
    text = flags.text(key)
    if not text:
        return 0
    nanoseconds = parse_duration(text)
    if nanoseconds is None:
        raise _Refused(f"--{key}={text}: time: invalid duration {text!r}")
    if 0 < abs(nanoseconds) < 1_000_000 or nanoseconds < 0:
        raise _Refused(f"Interval {key!r} cannot be less than 1ms")
    return nanoseconds


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
                   "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int | None:
    """Go's time.ParseDuration (`1m30s`, `1.5h`, `250ms`, `0`) in nanoseconds; None if invalid."""
    body = text
    sign = 1
    if body[:1] in "+-" and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        return None
    total = 0.0
    pos = 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match:
            return None
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * int(round(total))


def _parse_onbuild(node: Node) -> Onbuild:
    if not node.args:
        raise _Refused("ONBUILD requires at least one argument")
    _Flags(node)
    trigger = node.args.split(None, 1)[0].upper()
    if trigger == "ONBUILD":
        raise _Refused("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Refused(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original, count=1)
    expression += "".join(f"\n{h.content}{h.name}" for h in node.heredocs)
    return Onbuild(**_base(node), expression=expression)


_PARSERS = {
    "FROM": _parse_from, "RUN": _parse_run, "COPY": _parse_copy, "ADD": _parse_add,
    "WORKDIR": _one_arg_parser(Workdir, "path"), "ENV": _parse_env, "ARG": _parse_arg, "LABEL": _parse_label,
    "USER": _one_arg_parser(User, "user"), "EXPOSE": _parse_expose, "VOLUME": _parse_volume, "CMD": _parse_cmd,
    "ENTRYPOINT": _parse_entrypoint, "HEALTHCHECK": _parse_healthcheck, "SHELL": _parse_shell,
    "STOPSIGNAL": _one_arg_parser(StopSignal, "signal"), "ONBUILD": _parse_onbuild,
    "MAINTAINER": _one_arg_parser(Maintainer, "name"),
}


# -- RUN --mount ---------------------------------------------------------------------------
_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING = ("shared", "private", "locked")
_MOUNT_KEYS = ("type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro",
               "readwrite", "rw", "required", "size", "id", "sharing", "mode", "uid", "gid", "env")


def parse_mount(text: str, expand: Callable[[str], str] | None) -> MountSpec:
    """A `--mount` value (CSV of key=value) as BuildKit reads it. `expand` is applied to each
    value; None only checks what can be checked before expansion (as BuildKit's first pass)."""
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error as error:
        raise _Refused(f"failed to parse csv mounts: {error}") from None
    spec: dict[str, Any] = {"type": "bind"}
    readonly: bool | None = None
    for item in fields:
        key, has_value, value = item.partition("=")
        key = key.lower()
        if not has_value:
            if expand is None:
                continue
            if key in ("readonly", "ro"):
                readonly = True
            elif key in ("readwrite", "rw"):
                readonly = False
            elif key == "required":
                if spec["type"] not in ("secret", "ssh"):
                    raise _Refused(f"unexpected key '{key}' for mount type '{spec['type']}'")
                spec["required"] = True
            else:
                raise _Refused(f"invalid field '{item}' must be a key=value pair")
            continue
        if expand is None:
            if key == "from" and "$" in value[:-1]:
                raise _Refused(f"'{key}' doesn't support variable expansion, define alias stage instead")
            continue
        value = expand(value)
        if key == "type":
            kind = value.lower()
            if kind not in _MOUNT_TYPES:
                raise _Refused(f"unsupported mount type {value!r} (bind, cache, tmpfs or secret)")
            if kind == "ssh":
                raise _Refused("type=ssh is not supported: stackup does not forward an SSH agent into builds")
            spec["type"] = kind
        elif key == "from":
            spec["from_"] = value
        elif key in ("source", "src"):
            spec["source"] = value
        elif key in ("target", "dst", "destination"):
            spec["target"] = value
        elif key in ("readonly", "ro", "readwrite", "rw"):
            flag = _parse_bool(key, value)
            readonly = flag if key in ("readonly", "ro") else not flag
        elif key == "required":
            if spec["type"] not in ("secret", "ssh"):
                raise _Refused(f"unexpected key '{key}' for mount type '{spec['type']}'")
            spec["required"] = _parse_bool(key, value)
        elif key == "size":
            if spec["type"] != "tmpfs":
                raise _Refused(f"unexpected key '{key}' for mount type '{spec['type']}'")
            spec["size"] = _ram_in_bytes(key, value)
        elif key == "id":
            spec["id"] = value
        elif key == "sharing":
            if value.lower() not in _SHARING:
                raise _Refused(f"unsupported sharing value {value!r} (shared, private or locked)")
            spec["sharing"] = value.lower()
        elif key in ("mode", "uid", "gid"):
            spec[key] = _parse_uint(key, value, 8 if key == "mode" else 10)
        elif key == "env":
            spec["env"] = value
        else:
            raise _Refused(f"unexpected key '{key}' in '{item}'")
    if expand is None:
        return MountSpec(type="bind")
    return _mount_defaults(spec, readonly)


def _mount_defaults(spec: dict[str, Any], readonly: bool | None) -> MountSpec:
    kind = spec["type"]
    if kind not in ("secret", "cache"):
        for key in ("mode", "uid", "gid"):
            if spec.get(key) is not None:
                raise _Refused(f"{key} not allowed for {kind!r} type mounts")
    if readonly is None:
        readonly = kind not in ("cache", "tmpfs")
    if spec.get("sharing") and kind != "cache":
        raise _Refused(f"invalid cache sharing set for {kind} mount")
    mount = MountSpec(readonly=readonly, **spec)
    if kind == "secret":
        if mount.from_:
            raise _Refused("secret mount should not have a from")
        if not (mount.source or mount.target or mount.id):
            raise _Refused("invalid secret mount. one of source, target required")
        if mount.source and mount.id:
            raise _Refused("both source and id can't be set")
        secret_id = mount.source or mount.id or posixpath.basename(mount.target)
        target = mount.target
        if mount.env is None and not target:
            target = "/run/secrets/" + posixpath.basename(secret_id)
        return replace(mount, id=secret_id, target=target)
    if not mount.target:
        raise _Refused(f"a {kind} mount needs a target")
    if kind == "cache":
        return replace(mount, id=mount.id or posixpath.normpath(mount.target), sharing=mount.sharing or "shared")
    return mount


def _parse_bool(key: str, value: str) -> bool:
    # Go's strconv.ParseBool
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise _Refused(f"invalid value for {key}: {value}")


def _parse_uint(key: str, value: str, base: int) -> int:
    try:
        number = int(value, base)
    except ValueError:
        number = -1
    if number < 0 or number >= 1 << 32 or not value.isascii() or "_" in value or value[:1] in "+-":
        raise _Refused(f"invalid value {value} for {key}")
    return number


_RAM = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$", re.IGNORECASE)


def _ram_in_bytes(key: str, value: str) -> int:
    """docker/go-units RAMInBytes: 64m, 1g, 512k, 1024 (binary multiples)."""
    match = _RAM.match(value.strip())
    if not match:
        raise _Refused(f"invalid value for {key}: {value}")
    power = "kmgtp".find(match.group(2).lower()) + 1 if match.group(2) else 0
    return int(float(match.group(1)) * 1024 ** power)


# -- ARG scoping, predefined args, ports -----------------------------------------------------
def platform_args(target: Platform | None = None, build: Platform | None = None) -> dict[str, str]:
    """BuildKit's predefined platform args (both default to this machine's platform)."""
    from stackup.engine.images import platform as platforms

    build = build or platforms.host()
    target = target or build
    return {
        "BUILDPLATFORM": str(build), "BUILDOS": build.os, "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
        "TARGETPLATFORM": str(target), "TARGETOS": target.os, "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant,
    }


def proxy_args(build_args: Mapping[str, str]) -> dict[str, str]:
    """The proxy build args given: RUN steps see them without an ARG (and they stay out of the
    image config and of expansion)."""
    return {k: v for k, v in build_args.items() if k in PROXY_ARGS}


def meta_arg_values(
    meta_args: Sequence[Arg], build_args: Mapping[str, str], predefined: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What FROM lines see: the predefined args (a build arg of the same name overrides) and the
    meta ARGs in order (a build arg, else the default expanded with the values so far; an ARG
    with neither stays unset)."""
    values = dict(platform_args() if predefined is None else predefined)
    for key in values:
        if key in build_args:
            values[key] = build_args[key]
    for arg in meta_args:
        for key, default in arg.args:
            if key in build_args:
                values[key] = build_args[key]
            elif default is not None:
                values[key] = arg._expand(default, values)
    return values


def stage_arg_values(
    arg: Arg, env: Mapping[str, str], build_args: Mapping[str, str], meta_values: Mapping[str, str]
) -> list[tuple[str, str | None]]:
    """The values an ARG inside a stage gives its names: the build arg, else its default
    (expanded with the stage's `env`), else the meta value of that name (`ARG NAME`
    redeclaring a meta ARG or a predefined one), else None (declared, unset)."""
    out: list[tuple[str, str | None]] = []
    for key, default in arg.args:
        if key in build_args:
            out.append((key, build_args[key]))
        elif default is not None:
            out.append((key, arg._expand(default, env)))
        else:
            out.append((key, meta_values.get(key)))
    return out


def exposed_ports(ports: Sequence[str]) -> list[str]:
    """EXPOSE words (expanded) as the image config's keys: `80/tcp`, ranges one per port,
    protocol lower-cased; ValueError naming the bad port."""
    out: list[str] = []
    for raw in ports:
        port, _, proto = raw.rpartition(":")[2].partition("/")
        proto = proto.lower() or "tcp"
        if not port:
            raise ValueError(f"invalid port {raw!r}: no port specified")
        if proto not in ("tcp", "udp", "sctp"):
            raise ValueError(f"invalid port {raw!r}: invalid proto: {proto}")
        start, dash, end = port.partition("-")
        try:
            first = int(start)
            last = int(end) if dash and end != start else first
        except ValueError:
            raise ValueError(f"invalid port {raw!r}: invalid containerPort: {port}") from None
        if not (0 <= first <= last <= 65535):
            raise ValueError(f"invalid port {raw!r}: invalid containerPort: {port}")
        out.extend(f"{number}/{proto}" for number in range(first, last + 1))
    return out


