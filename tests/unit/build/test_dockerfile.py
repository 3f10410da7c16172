"""The Dockerfile parser: BuildKit's line, directive, flag, JSON and heredoc rules."""

from __future__ import annotations

import pytest

from stackup.engine.build.dockerfile import DockerfileError, Heredoc, Node, parse, parse_line
from stackup.errors import UserError


def nodes(text: str) -> list[Node]:
    return parse(text).nodes


def only(text: str) -> Node:
    (node,) = nodes(text)
    return node


# -- lines, comments, continuations ----------------------------------------------------------
def test_keywords_are_upper_cased_and_lines_counted() -> None:
    parsed = nodes("from busybox\n\n# a comment\nrun echo hi\n")
    assert [(n.keyword, n.line, n.end_line, n.args) for n in parsed] == [
        ("FROM", 1, 1, "busybox"),
        ("RUN", 4, 4, "echo hi"),
    ]


def test_continuation_joins_lines_and_keeps_inner_spaces() -> None:
    node = only("RUN echo a \\\n    && echo b\n")
    assert node.args == "echo a     && echo b"
    assert (node.line, node.end_line) == (1, 2)


def test_comment_lines_inside_a_continuation_are_dropped() -> None:
    node = only("RUN apt-get install \\\n  # the compiler\n  gcc \\\n    # and make\n  make\n")
    assert node.args == "apt-get install   gcc   make"
    assert node.end_line == 5


def test_empty_continuation_lines_are_skipped_with_a_warning() -> None:
    parsed = parse("RUN a \\\n\n   \n  b\nRUN c\n")
    assert [n.args for n in parsed.nodes] == ["a   b", "c"]
    assert parsed.nodes[1].line == 5
    assert len(parsed.warnings) == 1 and "empty continuation" in parsed.warnings[0]


def test_continuation_at_end_of_file() -> None:
    parsed = nodes("FROM busybox\nRUN echo \\")
    assert [(n.keyword, n.args, n.end_line) for n in parsed] == [("FROM", "busybox", 1), ("RUN", "echo", 2)]


def test_continuation_with_trailing_blanks_after_the_escape() -> None:
    assert nodes("RUN a \\  \t\n b\n")[0].args == "a  b"


def test_escaped_escape_at_end_of_line_does_not_continue() -> None:
    parsed = nodes("RUN echo a\\\\\nRUN echo b\n")
    assert [n.args for n in parsed] == ["echo a\\\\", "echo b"]


def test_lone_escape_line_continues() -> None:
    assert nodes("RUN a \\\n\\\nb\n")[0].args == "a b"


def test_windows_line_endings() -> None:
    parsed = nodes("FROM busybox\r\nRUN echo a \\\r\n  b\r\nCMD [\"x\"]\r\n")
    assert [n.args for n in parsed] == ["busybox", "echo a   b", '["x"]']
    assert parsed[2].json == ["x"]


def test_byte_order_mark_is_ignored() -> None:
    parsed = parse("\ufeff# escape=`\nFROM busybox\n")
    assert parsed.escape == "`"
    assert parsed.nodes[0].keyword == "FROM"


def test_leading_whitespace_and_comment_after_instructions() -> None:
    parsed = nodes("   FROM busybox\n\t# not a directive\n  RUN x # not a comment\n")
    assert [n.args for n in parsed] == ["busybox", "x # not a comment"]


def test_empty_file_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="file with no instructions"):
        parse("# only a comment\n\n")
    with pytest.raises(UserError):
        parse("")


def test_error_text_names_the_file_and_line() -> None:
    error = DockerfileError("RUN: boom", filename="app/Dockerfile.dev", line=7)
    assert str(error) == "app/Dockerfile.dev:7: RUN: boom"
    assert (error.filename, error.line, error.exit_code) == ("app/Dockerfile.dev", 7, 2)


# -- directives ------------------------------------------------------------------------------
def test_directives_at_the_top() -> None:
    parsed = parse("# syntax=docker/dockerfile:1\n#  ESCAPE = `\n# check=skip=all\nFROM busybox\n")
    assert parsed.directives == {"syntax": "docker/dockerfile:1", "escape": "`", "check": "skip=all"}
    assert parsed.escape == "`"
    assert parsed.nodes[0].escape == "`"


def test_directive_after_a_comment_is_a_comment() -> None:
    parsed = parse("# hello\n# escape=`\nFROM busybox\n")
    assert parsed.directives == {}
    assert parsed.escape == "\\"


def test_directive_after_a_blank_line_is_a_comment() -> None:
    assert parse("\n# escape=`\nFROM busybox\n").escape == "\\"


def test_directive_after_an_instruction_is_a_comment() -> None:
    parsed = parse("FROM busybox\n# syntax=someone/else\n")
    assert parsed.directives == {}


def test_unknown_directive_ends_directives() -> None:
    assert parse("# foo=bar\n# escape=`\nFROM x\n").escape == "\\"


def test_repeated_directive_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: only one escape parser directive"):
        parse("# escape=`\n# escape=\\\nFROM x\n")


def test_bad_escape_token() -> None:
    with pytest.raises(DockerfileError, match="invalid escape token"):
        parse("# escape=x\nFROM x\n")


@pytest.mark.parametrize(
    "syntax",
    [
        "docker/dockerfile:1",
        "docker/dockerfile:1.7",
        "docker/dockerfile:1.7.1",
        "docker/dockerfile:1-labs",
        "docker/dockerfile:1.7-labs",
        "docker.io/docker/dockerfile:1",
        "docker/dockerfile",
        "docker/dockerfile:1.4@sha256:" + "a" * 64,
    ],
)
def test_builtin_frontend_syntax_is_accepted(syntax: str) -> None:
    assert parse(f"# syntax={syntax}\nFROM x\n").directives["syntax"] == syntax


@pytest.mark.parametrize("syntax", ["tonistiigi/dockerfile:runmount", "docker/dockerfile:0.9", "ghcr.io/x/y:1"])
def test_other_frontends_are_refused_by_name(syntax: str) -> None:
    with pytest.raises(DockerfileError, match=f"Dockerfile:1: # syntax={syntax}: only the built-in"):
        parse(f"# syntax={syntax}\nFROM x\n", "Dockerfile")


def test_escape_backtick_continuations_and_backslashes() -> None:
    parsed = parse("# escape=`\nFROM windows\nRUN dir C:\\ `\n  /s\nCOPY a\\b C:\\dest\\\n")
    assert [n.args for n in parsed.nodes] == ["windows", "dir C:\\   /s", "a\\b C:\\dest\\"]


# -- flags -----------------------------------------------------------------------------------
def test_flags_before_arguments() -> None:
    node = only("COPY --from=build --chown=1:2 src /dst\n")
    assert node.flags == ["--from=build", "--chown=1:2"]
    assert node.args == "src /dst"


def test_a_flag_after_an_argument_is_an_argument() -> None:
    node = only("COPY src --chown=1:2 /dst\n")
    assert node.flags == []
    assert node.args == "src --chown=1:2 /dst"


def test_flag_values_lose_their_quotes() -> None:
    node = only("RUN --mount=\"type=cache,target=/a b\" --network='none' true\n")
    assert node.flags == ["--mount=type=cache,target=/a b", "--network=none"]
    assert node.args == "true"


def test_double_dash_ends_flags() -> None:
    node = only("COPY --chown=1 -- --weird /dst\n")
    assert node.flags == ["--chown=1"]
    assert node.args == "--weird /dst"


def test_single_dash_is_an_argument() -> None:
    assert only("RUN -x\n").flags == []


def test_only_flags() -> None:
    node = only("RUN --network=none\n")
    assert (node.flags, node.args) == (["--network=none"], "")


# -- JSON form -------------------------------------------------------------------------------
def test_json_form() -> None:
    node = only('CMD ["echo", "a b", "\\u00e9"]\n')
    assert node.json == ["echo", "a b", "é"]


@pytest.mark.parametrize(
    "rest",
    [
        "[bad json",
        "['single', 'quotes']",
        '["unterminated]',
        '["a"] trailing',
        "[NaN]",
        '"not an array"',
        'echo ["a"]',
    ],
)
def test_bad_json_falls_back_to_shell_form(rest: str) -> None:
    node = only(f"RUN {rest}\n")
    assert node.json is None
    assert node.args == rest


def test_json_with_non_strings_is_an_error() -> None:
    with pytest.raises(DockerfileError, match='Dockerfile:2: CMD: when using JSON array syntax, arrays must be comprised of strings only'):
        parse('FROM x\nCMD ["sleep", 10]\n')


def test_empty_json_array() -> None:
    assert only("ENTRYPOINT []\n").json == []


def test_json_form_is_not_read_for_other_instructions() -> None:
    assert only('LABEL ["a"]\n').json is None


def test_healthcheck_json_follows_the_type() -> None:
    node = only('HEALTHCHECK --retries=2 CMD ["curl", "-f", "x"]\n')
    assert node.json == ["curl", "-f", "x"]
    assert node.args == 'CMD ["curl", "-f", "x"]'


def test_json_form_spanning_lines() -> None:
    assert only('CMD ["a", \\\n     "b"]\n').json == ["a", "b"]


# -- heredocs --------------------------------------------------------------------------------
def test_run_heredoc() -> None:
    node = nodes("FROM x\nRUN <<EOF\necho a\necho $HOME\nEOF\nRUN after\n")[1]
    assert node.args == "<<EOF"
    assert node.heredocs == [Heredoc(name="EOF", content="echo a\necho $HOME\n", expand=True, chomp=False)]
    assert (node.line, node.end_line) == (2, 5)


def test_quoted_delimiters_do_not_expand() -> None:
    for opener in ('<<"EOF"', "<<'EOF'", '<<E"O"F'):
        heredoc = only(f"RUN {opener}\n$X\nEOF\n").heredocs[0]
        assert (heredoc.name, heredoc.expand) == ("EOF", False), opener


def test_chomp_strips_leading_tabs_from_body_and_terminator() -> None:
    heredoc = only("RUN <<-EOF\n\t\techo a\n\t  b\n\tEOF\n").heredocs[0]
    assert heredoc.chomp
    assert heredoc.content == "\t\techo a\n\t  b\n"
    assert heredoc.data == "echo a\n  b\n"


def test_without_chomp_an_indented_terminator_is_body() -> None:
    heredoc = only("RUN <<EOF\n\tEOF\nEOF\n").heredocs[0]
    assert heredoc.content == "\tEOF\n"


def test_several_heredocs_on_one_line() -> None:
    node = only("COPY <<one.txt <<'two.txt' /dst/\n1 $A\none.txt\n2 $A\ntwo.txt\n")
    assert [(h.name, h.content, h.expand) for h in node.heredocs] == [
        ("one.txt", "1 $A\n", True),
        ("two.txt", "2 $A\n", False),
    ]
    assert node.end_line == 5


def test_heredoc_with_space_after_the_operator_and_a_file_descriptor() -> None:
    node = only("RUN python3 << PY 3<<X\nprint(1)\nPY\nx\nX\n")
    assert [h.name for h in node.heredocs] == ["PY", "X"]


def test_heredoc_body_keeps_windows_line_endings() -> None:
    heredoc = only("RUN <<EOF\r\necho a\r\nEOF\r\n").heredocs[0]
    assert heredoc.content == "echo a\r\n"


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: RUN: unterminated heredoc"):
        parse("FROM x\nRUN <<EOF\necho a\n")


def test_heredocs_only_for_run_copy_add() -> None:
    parsed = nodes("FROM x\nCMD cat <<EOF\nLABEL a=b\n")
    assert parsed[1].heredocs == []
    assert [n.keyword for n in parsed] == ["FROM", "CMD", "LABEL"]


def test_no_heredoc_in_exec_form() -> None:
    parsed = nodes('RUN ["cat", "<<EOF"]\nRUN x\n')
    assert parsed[0].heredocs == [] and len(parsed) == 2


def test_not_a_heredoc() -> None:
    assert only("RUN echo a<<b\n").heredocs == []
    assert only("RUN echo '<<EOF'\n").heredocs == []


def test_heredoc_in_onbuild() -> None:
    node = only("ONBUILD RUN <<EOF\necho hi\nEOF\n")
    assert node.child is not None and node.child.keyword == "RUN"
    assert node.heredocs == node.child.heredocs == [Heredoc("EOF", "echo hi\n")]


def test_heredoc_after_a_continuation() -> None:
    node = only("RUN --network=none \\\n  <<EOF\nx\nEOF\n")
    assert node.flags == ["--network=none"] and node.heredocs[0].content == "x\n"


# -- ONBUILD, unknown instructions, parse_line -------------------------------------------------
def test_onbuild_child() -> None:
    node = only("ONBUILD COPY --chown=1 . /app\n")
    assert node.child is not None
    assert (node.child.keyword, node.child.flags, node.child.args) == ("COPY", ["--chown=1"], ". /app")


def test_unknown_instruction_is_kept_for_the_typed_layer() -> None:
    assert only("FOO bar\n").keyword == "FOO"


def test_parse_line() -> None:
    node = parse_line('CMD ["a"]', line_number=3)
    assert (node.keyword, node.json, node.line) == ("CMD", ["a"], 3)
