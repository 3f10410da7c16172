"""The .dockerignore rules: Docker's pattern matcher as BuildKit's context walker applies it."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackup.engine.build.dockerignore import (
    Matcher,
    PatternError,
    clean,
    glob_regex,
    has_wildcards,
    ignore_file,
    parse_ignore,
    read_ignore,
)
from stackup.errors import UserError

# (pattern, path, excluded): single patterns, as moby/patternmatcher's own table has them
SINGLE = [
    ("**", "file", True),
    ("**/", "file", True),
    ("**", "dir/file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**file", "dir/dir/barfile", True),  # a leading ** with a literal rest is a suffix test
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    ("a[^b-d]e", "ace", False),
    ("a[\\]]e", "a]e", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("abc?def", "abc/def", False),
    ("a\\\\", "a\\", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("*", "a/b", True),  # the parent folder `a` matches
    ("*.go", "sub/x.go", False),  # `*` stays within one component, from the root
    ("sub", "sub/deep/x", True),
    ("sub/", "sub/x", True),  # a trailing slash does not matter
    ("/sub", "sub/x", False),  # a leading one does not match here: the ignore file drops it
    ("sub/../other", "other/x", True),  # cleaned
    ("./x", "x", True),
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), SINGLE)
def test_single_patterns(pattern: str, path: str, excluded: bool) -> None:
    assert Matcher([pattern]).excludes(path) is excluded


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/a-1.whl", False),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["!README.md", "*.md"], "README.md", True),  # the last match wins
    (["docs", "!docs/keep"], "docs/keep/x", False),
    (["docs", "!docs/keep"], "docs/other", True),
    (["docs", "!docs/keep", "docs/keep/tmp"], "docs/keep/tmp/y", True),
    (["**/node_modules", "!app/node_modules/x"], "app/node_modules/x/a.js", False),
    (["**/node_modules", "!app/node_modules/x"], "lib/node_modules/x/a.js", True),
])
def test_exceptions(patterns: list[str], path: str, excluded: bool) -> None:
    assert Matcher(patterns).excludes(path) is excluded


def test_exception_checked_folder_by_folder_as_the_walk_does() -> None:
    """BuildKit's walk passes each folder's results down: an exception that was skipped for
    the folder (nothing excluded it yet) is not tried on the folder again for its child, so
    `d/x` stays excluded here (the classic one-shot check would say it is kept)."""
    matcher = Matcher(["d/x", "!d"])
    assert matcher.excludes("d") is False
    assert matcher.excludes("d/x") is True
    assert matcher.matches("d/x", None)[0] is False  # the one-shot check, for comparison


def test_root_and_empty_matcher() -> None:
    assert Matcher(["**"]).excludes(".") is False
    assert Matcher(["*"]).excludes("") is False
    empty = Matcher([])
    assert not empty and empty.excludes("anything") is False
    assert Matcher(["", "   "]).patterns == ()


def test_may_include_below_follows_fsutil() -> None:
    assert Matcher(["docs"]).may_include_below("docs") is False
    literal = Matcher(["docs", "other", "!docs/keep/file"])
    assert literal.may_include_below("docs") is True
    assert literal.may_include_below("docs/keep") is True
    assert literal.may_include_below("other") is False
    assert literal.may_include_below("doc") is False
    trailing = Matcher(["docs", "!docs/keep/**"])
    assert trailing.may_include_below("docs/keep") is True
    wild = Matcher(["docs", "other", "!**/*.md"])
    assert wild.may_include_below("other") is True


@pytest.mark.parametrize("pattern", ["a[", "[]", "a[b-]", "[^]", "x\\", "a[z-a]"])
def test_malformed_patterns(pattern: str) -> None:
    with pytest.raises(PatternError) as caught:
        Matcher([pattern])
    assert caught.value.pattern == pattern
    assert "bad pattern" in str(caught.value)


def test_lone_bang_is_refused() -> None:
    with pytest.raises(PatternError, match='illegal exclusion pattern: "!"'):
        Matcher(["!"])


def test_clean_is_go_filepath_clean() -> None:
    assert clean("") == "."
    assert clean("a//b/./c/..") == "a/b"
    assert clean("/../x") == "/x"
    assert clean("../../x") == "../../x"
    assert clean("a/../..") == ".."
    assert clean("//a/") == "/a"


def test_glob_regex_is_filepath_match() -> None:
    assert glob_regex("*.txt").match("a.txt")
    assert not glob_regex("*.txt").match("d/a.txt")
    assert glob_regex("*/*.txt").match("d/a.txt")
    assert glob_regex("**").match("abc") and not glob_regex("**").match("a/b")
    assert glob_regex("[a-c]?").match("bz")
    assert glob_regex("\\[x]").match("[x]")
    assert glob_regex("a*\n").match("ab\n") and not glob_regex("a*").match("ab\n/")
    with pytest.raises(ValueError):
        glob_regex("[")


def test_has_wildcards() -> None:
    assert has_wildcards("*.go") and has_wildcards("a?") and has_wildcards("x[ab]")
    assert not has_wildcards("plain/file.txt")
    assert not has_wildcards("a\\*b")


def test_parse_ignore_reads_like_docker() -> None:
    text = "\ufeff# comment\n\n  *.log  \n /abs/path\r\n!  /keep.log\n  # not a comment\nsub/../x/\n!\n"
    assert parse_ignore(text) == [
        (3, "*.log"), (4, "abs/path"), (5, "!keep.log"), (6, "# not a comment"), (7, "x"), (8, "!"),
    ]


def test_read_ignore_prefers_the_dockerfile_specific_file(tmp_path: Path) -> None:
    dockerfile = tmp_path / "build" / "app.Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM scratch\n")
    assert read_ignore(tmp_path, dockerfile).patterns == ()
    assert ignore_file(tmp_path, dockerfile) is None
    (tmp_path / ".dockerignore").write_text("general\n")
    assert [p.text for p in read_ignore(tmp_path, dockerfile).patterns] == ["general"]
    specific = tmp_path / "build" / "app.Dockerfile.dockerignore"
    specific.write_text("specific\n!keep\n")
    matcher = read_ignore(tmp_path, dockerfile)
    assert [(p.text, p.exclusion) for p in matcher.patterns] == [("specific", False), ("keep", True)]
    assert matcher.source == specific
    assert [p.text for p in read_ignore(tmp_path, tmp_path / "Dockerfile").patterns] == ["general"]
    assert [p.text for p in read_ignore(tmp_path, None).patterns] == ["general"]


def test_read_ignore_names_file_and_line_of_a_bad_pattern(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("# c\nok\n\nbad[\n")
    with pytest.raises(UserError) as caught:
        read_ignore(tmp_path, tmp_path / "Dockerfile")
    assert str(caught.value).startswith(f"{tmp_path / '.dockerignore'}:4: bad pattern 'bad['")
    assert caught.value.exit_code == 2
