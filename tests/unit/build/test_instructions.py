"""Typed instructions: Docker's checks, flags, mounts, expansion where Docker expands, stages, ARGs."""

from __future__ import annotations

import pytest

from stackup.engine.build.dockerfile import DockerfileError, parse
from stackup.engine.build.instructions import (
    PIPES_DIR,
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    exposed_ports,
    meta_arg_values,
    parse_duration,
    parse_instruction,
    platform_args,
    proxy_args,
    split_stages,
    stage_arg_values,
)
from stackup.engine.images.platform import Platform


def one(line: str) -> Instruction:
    return parse_instruction(parse(line + "\n").nodes[0])


def refused(line: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message) as caught:
        one(line)
    assert str(caught.value).startswith("Dockerfile:1: ")


# -- FROM --------------------------------------------------------------------------------------
def test_from_forms() -> None:
    assert one("FROM busybox") == From(keyword="FROM", line=1, end_line=1, original="FROM busybox", image="busybox")
    stage = one("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build")
    assert isinstance(stage, From)
    assert (stage.image, stage.name, stage.platform) == ("golang:1.22", "build", "$BUILDPLATFORM")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("FROM", "FROM requires either one or three arguments"),
        ("FROM a b", "FROM requires either one or three arguments"),
        ("FROM a AS 1st", "invalid name for build stage"),
        ("FROM --plat=x a", "FROM: unknown flag: --plat"),
    ],
)
def test_from_errors(line: str, message: str) -> None:
    refused(line, message)


def test_from_expands_with_meta_args_and_refuses_blank() -> None:
    stage = one("FROM ${IMAGE:-busybox}:$TAG")
    assert isinstance(stage, From)
    assert stage.expanded({"TAG": "1"}).image == "busybox:1"
    with pytest.raises(DockerfileError, match=r"base name \(\$NOPE\) should not be blank"):
        one("FROM $NOPE").expanded({})


# -- RUN ---------------------------------------------------------------------------------------
def test_run_shell_and_exec_forms() -> None:
    shell = one("RUN echo $HOME && ls")
    assert isinstance(shell, Run) and shell.shell_form and shell.command == "echo $HOME && ls"
    exec_form = one('RUN ["echo", "$HOME"]')
    assert isinstance(exec_form, Run) and not exec_form.shell_form and exec_form.command == ["echo", "$HOME"]


def test_run_body_is_never_expanded() -> None:
    run = one("RUN echo $HOME")
    assert isinstance(run, Run)
    assert run.expanded({"HOME": "/x"}).command == "echo $HOME"


def test_run_mounts_expand_their_values() -> None:
    run = one("RUN --mount=type=cache,target=$DIR,id=pip,sharing=locked,mode=0700,uid=1000 "
              "--mount=type=bind,from=build,source=/out,target=/in,rw "
              "--mount=type=tmpfs,target=/tmp,size=64m "
              "--mount=type=secret,id=token,required "
              "--mount=type=secret,id=key,env=API_KEY true")
    assert isinstance(run, Run)
    assert run.mounts == []  # filled once the values can expand
    cache, bind, tmpfs, secret, env_secret = run.expanded({"DIR": "/root/.cache"}).mounts
    assert (cache.type, cache.target, cache.id, cache.sharing, cache.mode, cache.uid, cache.readonly) == (
        "cache", "/root/.cache", "pip", "locked", 0o700, 1000, False)
    assert (bind.type, bind.from_, bind.source, bind.target, bind.readonly) == ("bind", "build", "/out", "/in", False)
    assert (tmpfs.type, tmpfs.size, tmpfs.readonly) == ("tmpfs", 64 * 1024 * 1024, False)
    assert (secret.id, secret.target, secret.required, secret.readonly) == ("token", "/run/secrets/token", True, True)
    assert (env_secret.env, env_secret.target) == ("API_KEY", "")


def test_mount_defaults() -> None:
    run = one("RUN --mount=target=/src --mount=type=cache,target=/var/cache/apt/ --mount=type=secret,target=/etc/x.pem true")
    assert isinstance(run, Run)
    bind, cache, secret = run.expanded({}).mounts
    assert (bind.type, bind.readonly) == ("bind", True)
    assert (cache.id, cache.sharing) == ("/var/cache/apt", "shared")
    assert (secret.id, secret.target) == ("x.pem", "/etc/x.pem")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("RUN --mount=type=ssh true", "type=ssh is not supported"),
        ("RUN --mount=type=nfs,target=/x true", "unsupported mount type 'nfs'"),
        ("RUN --mount=type=cache,target=/x,sharing=maybe true", "unsupported sharing value"),
        ("RUN --mount=type=bind,target=/x,mode=0600 true", "mode not allowed for 'bind' type mounts"),
        ("RUN --mount=type=cache,target=/x,uid=abc true", "invalid value abc for uid"),
        ("RUN --mount=type=bind,target=/x,size=1m true", "unexpected key 'size' for mount type 'bind'"),
        ("RUN --mount=type=cache,target=/x,required true", "unexpected key 'required'"),
        ("RUN --mount=type=secret true", "one of source, target required"),
        ("RUN --mount=type=secret,id=a,source=b true", "both source and id can't be set"),
        ("RUN --mount=type=bind,target=/x,colour=red true", "unexpected key 'colour'"),
        ("RUN --mount=type=bind,target=/x,bogus true", "must be a key=value pair"),
        ("RUN --mount=type=bind,target=/x,sharing=shared true", "invalid cache sharing set for bind mount"),
        ("RUN --mount=type=cache true", "a cache mount needs a target"),
        ("RUN --mount=type=bind,from=$STAGE,target=/x true", "doesn't support variable expansion"),
        ("RUN --network=bridge true", "invalid network mode 'bridge'"),
        ("RUN --security=insecure true", "--security=insecure is not supported"),
        ("RUN --security=other true", "security 'other' is not valid"),
        ("RUN --device=/dev/fuse true", "RUN: unknown flag: --device"),
        ("RUN --network=none --network=host true", "duplicate flag specified: --network"),
        ("RUN --network true", "missing a value on flag: --network"),
        ("RUN", "RUN requires at least one argument"),
    ],
)
def test_run_errors(line: str, message: str) -> None:
    refused(line, message)


def test_run_mount_errors_after_expansion_name_the_line() -> None:
    run = parse_instruction(parse("FROM x\nRUN --mount=type=$T,target=/x true\n").nodes[1])
    with pytest.raises(DockerfileError, match="Dockerfile:2: RUN: --mount=type=\\$T,target=/x: type=ssh"):
        run.expanded({"T": "ssh"})


def test_run_network() -> None:
    run = one("RUN --network=host true")
    assert isinstance(run, Run) and run.network == "host"


def test_run_script_shell_and_exec() -> None:
    shell = ["/bin/sh", "-c"]
    run = one("RUN echo hi")
    assert isinstance(run, Run) and run.script(shell).argv == ["/bin/sh", "-c", "echo hi"]
    run = one('RUN ["echo", "hi"]')
    assert isinstance(run, Run) and run.script(shell).argv == ["echo", "hi"]


def test_run_script_heredocs() -> None:
    shell = ["/bin/sh", "-c"]
    simple = parse_instruction(parse("RUN <<-EOF\n\techo a\n\tEOF\n").nodes[0])
    assert isinstance(simple, Run)
    assert simple.script(shell).argv == ["/bin/sh", "-c", "echo a\n"]
    script = parse_instruction(parse("RUN <<run.py\n#!/usr/bin/env python3\nprint(1)\nrun.py\n").nodes[0])
    assert isinstance(script, Run)
    result = script.script(shell)
    assert result.argv == ["/bin/sh", "-c", f"{PIPES_DIR}/run.py"]
    assert result.pipe is not None and result.pipe.data == "#!/usr/bin/env python3\nprint(1)\n"
    piped = parse_instruction(parse("RUN cat <<A > /a && cat <<B\none\nA\ntwo\nB\n").nodes[0])
    assert isinstance(piped, Run)
    assert piped.script(shell).argv == ["/bin/sh", "-c", "cat <<A > /a && cat <<B\none\nA\ntwo\nB"]


# -- COPY / ADD ----------------------------------------------------------------------------
def test_copy_flags_and_arguments() -> None:
    copy = one("COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=.git a b/ /dst/")
    assert isinstance(copy, Copy)
    assert (copy.sources, copy.dest, copy.from_, copy.chown, copy.chmod) == (["a", "b/"], "/dst/", "build", "app:app", "0755")
    assert (copy.link, copy.parents, copy.exclude) == (True, True, ["*.md", ".git"])


def test_copy_json_form_keeps_spaces() -> None:
    copy = one('COPY ["my file", "/dst dir/"]')
    assert isinstance(copy, Copy) and (copy.sources, copy.dest) == (["my file"], "/dst dir/")


def test_copy_expansion() -> None:
    copy = one("COPY --chown=$U --chmod=$M --exclude=$X ${SRC:-src} $DEST")
    assert isinstance(copy, Copy)
    done = copy.expanded({"U": "1000", "M": "640", "X": "nope", "DEST": "/app"})
    assert (done.sources, done.dest, done.chown, done.chmod, done.exclude) == (["src"], "/app", "1000", "640", ["$X"])


def test_copy_heredoc_sources() -> None:
    copy = parse_instruction(parse("COPY <<-a.txt <<'b.txt' real /dst/\n\tA=$A\n\ta.txt\nB=$A\nb.txt\n").nodes[0])
    assert isinstance(copy, Copy)
    assert copy.sources == ["real"]
    assert [(h.name, h.data, h.expand) for h in copy.heredocs] == [("a.txt", "A=$A\n", True), ("b.txt", "B=$A\n", False)]
    done = copy.expanded({"A": "1"})
    assert [(h.name, h.content) for h in done.heredocs] == [("a.txt", "A=1\n"), ("b.txt", "B=$A\n")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("COPY onlyone", "COPY requires at least two arguments"),
        ("COPY --chmod=u+x a /b", "only octal modes"),
        ("COPY --chmod=0999 a /b", "only octal modes"),
        ("COPY --from=$STAGE a /b", "variable expansion is not supported for --from"),
        ("COPY --checksum=sha256:x a /b", "COPY: unknown flag: --checksum"),
        ("COPY --link=maybe a /b", "expecting boolean value for flag --link, not: maybe"),
        ("COPY --link= a /b", "missing a value on flag: --link"),
        ("ADD --keep-git-dir https://github.com/x/y.git /src", "--keep-git-dir is not supported"),
        ("ADD --from=x a /b", "ADD: unknown flag: --from"),
        ("ADD --parents a /b", "ADD: unknown flag: --parents"),
    ],
)
def test_copy_add_errors(line: str, message: str) -> None:
    refused(line, message)


def test_heredoc_destination_is_refused() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:1: COPY cannot accept a heredoc as a destination"):
        parse_instruction(parse("COPY a <<EOF\nx\nEOF\n").nodes[0])


def test_chmod_checked_after_expansion() -> None:
    copy = one("COPY --chmod=$MODE a /b")
    with pytest.raises(DockerfileError, match="only octal modes"):
        copy.expanded({"MODE": "a+r"})


def test_add_flags() -> None:
    add = one("ADD --checksum=sha256:$SUM --unpack=false --link=false --exclude=x https://example.com/a.tgz /opt/")
    assert isinstance(add, Add)
    assert (add.sources, add.dest, add.unpack, add.link, add.exclude) == (["https://example.com/a.tgz"], "/opt/", False, False, ["x"])
    assert add.expanded({"SUM": "abc"}).checksum == "sha256:abc"
    assert isinstance(one("ADD a b"), Add) and one("ADD a b").unpack is None  # type: ignore[attr-defined]


# -- ENV / LABEL / ARG -------------------------------------------------------------------------
def test_env_forms_and_expansion_against_the_previous_env() -> None:
    env = one('ENV A=1 B="two words" C=$A D=\\$A')
    assert isinstance(env, Env)
    assert env.expanded({"A": "old"}).pairs == [("A", "1"), ("B", "two words"), ("C", "old"), ("D", "$A")]
    legacy = one("ENV PATH /usr/local/bin:$PATH")
    assert isinstance(legacy, Env)
    assert legacy.expanded({"PATH": "/bin"}).pairs == [("PATH", "/usr/local/bin:/bin")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ENV", "ENV requires at least one argument"),
        ("ENV =x", "ENV names can not be blank"),
        ("ENV ALONE", "ENV must have two arguments"),
        ("ENV A=1 B", "can't find = in 'B'"),
        ("ENV --x=1 A=1", "ENV: unknown flag: --x"),
        ("LABEL", "LABEL requires at least one argument"),
        ('LABEL ""=x', None),
        ("ARG", "ARG requires at least one argument"),
        ("ARG =x", "ARG names can not be blank"),
        ("ENV A=\"unterminated", None),
    ],
)
def test_key_value_errors(line: str, message: str | None) -> None:
    if message is None:  # accepted by the parser (Docker fails at expansion, or not at all)
        one(line)
    else:
        refused(line, message)


def test_label_expansion() -> None:
    label = one('LABEL org.opencontainers.image.version="$V" "quoted key"=x')
    assert isinstance(label, Label)
    assert label.expanded({"V": "1.0"}).pairs == [("org.opencontainers.image.version", "1.0"), ("quoted key", "x")]


def test_env_expansion_error_names_the_line() -> None:
    env = parse_instruction(parse("FROM x\nENV A=\"${B:?must be set}\"\n").nodes[1])
    with pytest.raises(DockerfileError, match="Dockerfile:2: ENV: .*B: must be set"):
        env.expanded({})


def test_arg_forms() -> None:
    arg = one('ARG A B=1 C="x y"')
    assert isinstance(arg, Arg)
    assert arg.args == [("A", None), ("B", "1"), ("C", '"x y"')]
    assert arg.expanded({}).args == [("A", None), ("B", "1"), ("C", "x y")]


# -- the single-argument instructions ---------------------------------------------------------
def test_single_argument_instructions() -> None:
    assert isinstance(w := one("WORKDIR /app/$NAME"), Workdir) and w.expanded({"NAME": "x"}).path == "/app/x"
    assert isinstance(u := one("USER ${U}:staff"), User) and u.expanded({"U": "app"}).user == "app:staff"
    assert isinstance(s := one("STOPSIGNAL $SIG"), StopSignal) and s.expanded({"SIG": "SIGTERM"}).signal == "SIGTERM"
    assert isinstance(m := one("MAINTAINER Jane Doe <j@d>"), Maintainer) and m.name == "Jane Doe <j@d>"
    assert one("WORKDIR /a b").path == "/a b"  # type: ignore[attr-defined]


@pytest.mark.parametrize("keyword", ["WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"])
def test_single_argument_required(keyword: str) -> None:
    refused(keyword, f"{keyword} requires exactly one argument")


def test_expose() -> None:
    expose = one("EXPOSE 80 $PORTS 9000-9002/UDP")
    assert isinstance(expose, Expose)
    assert expose.ports == ["80", "$PORTS", "9000-9002/UDP"]
    done = expose.expanded({"PORTS": "443 8443/tcp"})
    assert done.ports == ["80", "443", "8443/tcp", "9000-9002/UDP"]
    assert exposed_ports(done.ports) == ["80/tcp", "443/tcp", "8443/tcp", "9000/udp", "9001/udp", "9002/udp"]
    refused("EXPOSE", "EXPOSE requires at least one argument")


@pytest.mark.parametrize("port", ["http", "80/icmp", "9000-8000", "70000", "/tcp"])
def test_exposed_ports_refuses(port: str) -> None:
    with pytest.raises(ValueError, match="invalid port"):
        exposed_ports([port])


def test_volume_forms() -> None:
    assert isinstance(v := one('VOLUME ["/data", "/var/log"]'), Volume) and v.paths == ["/data", "/var/log"]
    assert isinstance(v := one("VOLUME /a $B"), Volume) and v.expanded({"B": "/b"}).paths == ["/a", "/b"]
    refused("VOLUME", "VOLUME requires at least one argument")
    refused('VOLUME ["/a", " "]', "VOLUME specified can not be an empty string")


def test_cmd_and_entrypoint() -> None:
    cmd = one("CMD echo $HOME")
    assert isinstance(cmd, Cmd) and (cmd.command, cmd.shell_form) == ("echo $HOME", True)
    assert cmd.expanded({"HOME": "x"}).command == "echo $HOME"
    entry = one('ENTRYPOINT ["/entry.sh"]')
    assert isinstance(entry, Entrypoint) and (entry.command, entry.shell_form) == (["/entry.sh"], False)
    cleared = one("ENTRYPOINT []")
    assert isinstance(cleared, Entrypoint) and cleared.command == []


def test_shell_needs_json() -> None:
    shell = one('SHELL ["/bin/bash", "-o", "pipefail", "-c"]')
    assert isinstance(shell, Shell) and shell.shell == ["/bin/bash", "-o", "pipefail", "-c"]
    refused("SHELL /bin/bash -c", "SHELL requires the arguments to be in JSON form")
    refused("SHELL []", "SHELL requires at least one argument")


# -- HEALTHCHECK -------------------------------------------------------------------------------
def test_healthcheck_forms() -> None:
    check = one("HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=500ms --retries=5 CMD curl -f http://localhost/ || exit 1")
    assert isinstance(check, Healthcheck)
    assert check.test == ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
    assert (check.interval, check.timeout, check.start_period, check.start_interval, check.retries) == (
        30 * 10**9, 90 * 10**9, 1_500_000_000, 500_000_000, 5)
    exec_check = one('HEALTHCHECK CMD ["/bin/check", "--fast"]')
    assert isinstance(exec_check, Healthcheck) and exec_check.test == ["CMD", "/bin/check", "--fast"]
    none = one("HEALTHCHECK none")
    assert isinstance(none, Healthcheck) and none.test == ["NONE"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK RUN x", "Unknown type 'RUN' in HEALTHCHECK"),
        ("HEALTHCHECK --interval=5 CMD x", "invalid duration"),
        ("HEALTHCHECK --interval=10us CMD x", "cannot be less than 1ms"),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative"),
        ("HEALTHCHECK --every=1s CMD x", "HEALTHCHECK: unknown flag: --every"),
    ],
)
def test_healthcheck_errors(line: str, message: str) -> None:
    refused(line, message)


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("0", 0), ("1h", 3600 * 10**9), ("1m30s", 90 * 10**9), ("2.5s", 2_500_000_000), ("10µs", 10_000), (".5ms", 500_000)],
)
def test_go_durations(text: str, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize("text", ["", "5", "1d", "s", "1.s.", "1s2"])
def test_bad_go_durations(text: str) -> None:
    assert parse_duration(text) is None


# -- ONBUILD, unknown ---------------------------------------------------------------------------
def test_onbuild_expression_and_trigger() -> None:
    onbuild = one("ONBUILD COPY --chown=1 . /app")
    assert isinstance(onbuild, Onbuild) and onbuild.expression == "COPY --chown=1 . /app"
    trigger = onbuild.trigger()
    assert isinstance(trigger, Copy) and trigger.sources == ["."]


def test_onbuild_keeps_heredocs_in_its_expression() -> None:
    onbuild = parse_instruction(parse("onbuild RUN <<EOF\necho hi\nEOF\n").nodes[0])
    assert isinstance(onbuild, Onbuild) and onbuild.expression == "RUN <<EOF\necho hi\nEOF"
    trigger = onbuild.trigger()
    assert isinstance(trigger, Run) and trigger.heredocs[0].content == "echo hi\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ONBUILD", "ONBUILD requires at least one argument"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD maintainer x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ],
)
def test_onbuild_errors(line: str, message: str) -> None:
    refused(line, message)


def test_unknown_instruction_names_file_and_line() -> None:
    with pytest.raises(DockerfileError, match=r"^sub/Dockerfile:3: unknown instruction: COPPY$"):
        split_stages(parse("FROM x\nRUN true\ncoppy a b\n", "sub/Dockerfile"))


# -- stages and ARG scoping ----------------------------------------------------------------------
def test_split_stages() -> None:
    meta, stages = split_stages(parse("ARG V=1\nFROM a AS one\nRUN x\nFROM one\nCOPY --from=one /a /b\n"))
    assert [a.args for a in meta] == [[("V", "1")]]
    assert [(s.index, s.name, s.from_.image, s.line, [i.keyword for i in s.instructions]) for s in stages] == [
        (0, "one", "a", 2, ["RUN"]),
        (1, None, "one", 4, ["COPY"]),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RUN x\nFROM a\n", "Dockerfile:1: RUN: no build stage in current context"),
        ("ARG A\n", "no FROM instruction"),
        ("FROM a AS x\nFROM b AS X\n", "Dockerfile:2: FROM: duplicate stage name 'x'"),
    ],
)
def test_split_stages_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message):
        split_stages(parse(text))


def test_meta_args_scoping() -> None:
    text = "ARG BASE=busybox\nARG TAG\nARG FULL=$BASE:${TAG:-latest}\nFROM $FULL\nARG BASE\nARG TAG\nARG OTHER\nRUN x\n"
    meta, stages = split_stages(parse(text))
    predefined = platform_args(Platform("linux", "arm64", "v8"))
    values = meta_arg_values(meta, {"TAG": "1.36", "UNDECLARED": "x"}, predefined)
    assert values["FULL"] == "busybox:1.36" and values["TARGETARCH"] == "arm64"
    assert "UNDECLARED" not in values
    assert stages[0].from_.expanded(values).image == "busybox:1.36"
    redeclared = stages[0].instructions
    assert isinstance(redeclared[0], Arg) and isinstance(redeclared[1], Arg) and isinstance(redeclared[2], Arg)
    assert stage_arg_values(redeclared[0], {}, {}, values) == [("BASE", "busybox")]
    assert stage_arg_values(redeclared[1], {}, {"TAG": "2"}, values) == [("TAG", "2")]
    assert stage_arg_values(redeclared[2], {}, {}, values) == [("OTHER", None)]


def test_meta_arg_without_default_or_build_arg_is_unset() -> None:
    meta, _ = split_stages(parse("ARG TAG\nFROM busybox:${TAG:-fallback}\n"))
    values = meta_arg_values(meta, {}, {})
    assert "TAG" not in values


def test_stage_arg_default_expands_with_stage_env_and_build_arg_wins() -> None:
    arg = one("ARG DIR=$HOME/app")
    assert isinstance(arg, Arg)
    assert stage_arg_values(arg, {"HOME": "/root"}, {}, {}) == [("DIR", "/root/app")]
    assert stage_arg_values(arg, {"HOME": "/root"}, {"DIR": "/given"}, {"DIR": "meta"}) == [("DIR", "/given")]


def test_predefined_args_come_from_the_host_and_build_args_override_them() -> None:
    args = platform_args()
    assert set(args) == {"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
                         "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"}
    assert args["TARGETOS"] == "linux" and args["TARGETPLATFORM"].startswith("linux/")
    assert meta_arg_values([], {"TARGETARCH": "riscv64"}, args)["TARGETARCH"] == "riscv64"
    assert platform_args(Platform("linux", "arm", "v7"))["TARGETPLATFORM"] == "linux/arm/v7"


def test_proxy_args_need_no_declaration() -> None:
    given = {"HTTP_PROXY": "http://p:3128", "no_proxy": "localhost", "OTHER": "x"}
    assert proxy_args(given) == {"HTTP_PROXY": "http://p:3128", "no_proxy": "localhost"}
