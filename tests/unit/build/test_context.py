"""COPY/ADD sources in a build context, what they bring, and the digest of their content."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from stackup.engine.build.context import ContentHasher, Source, SourceError, resolve_sources, walk
from stackup.engine.build.dockerignore import Matcher


def tree(root: Path, files: dict[str, str]) -> Path:
    """Files (a trailing / makes a folder; "->target" a symlink) below root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("/"):
            path.mkdir(exist_ok=True)
        elif content.startswith("->"):
            path.symlink_to(content[2:])
        else:
            path.write_text(content)
    return root


def paths(sources: list[Source]) -> list[tuple[str, str, bool]]:
    return [(s.path, s.resolved, s.is_dir) for s in sources]


def listed(root: Path, source: Source, matcher: Matcher | None, exclude: Matcher | None = None) -> list[str]:
    return [rel for rel, _ in walk(root, source, matcher, exclude)]


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    return tree(tmp_path / "ctx", {
        "app.py": "print()",
        "lib/a.py": "a", "lib/b.txt": "b", "lib/sub/c.py": "c",
        "docs/x.md": "x",
        "empty/": "",
    })


# --- resolving sources -------------------------------------------------------------------

def test_plain_sources_folders_and_the_root(ctx: Path) -> None:
    assert paths(resolve_sources(ctx, ["app.py", "lib", ".", "/lib/a.py", "./lib/../app.py"], None)) == [
        ("app.py", "app.py", False), ("lib", "lib", True), (".", ".", True),
        ("lib/a.py", "lib/a.py", False), ("app.py", "app.py", False),
    ]
    assert resolve_sources(ctx, ["lib/sub/c.py"], None)[0].name == "c.py"


def test_wildcards_match_per_component_in_name_order(ctx: Path) -> None:
    assert [s.path for s in resolve_sources(ctx, ["lib/*"], None)] == ["lib/a.py", "lib/b.txt", "lib/sub"]
    assert [s.path for s in resolve_sources(ctx, ["*.py"], None)] == ["app.py"]  # not lib/a.py
    assert [s.path for s in resolve_sources(ctx, ["*/*.py"], None)] == ["lib/a.py"]
    assert [s.path for s in resolve_sources(ctx, ["l?b/s[a-u]b"], None)] == ["lib/sub"]
    # `**` is Go's `*` twice: one component, not any depth
    assert [s.path for s in resolve_sources(ctx, ["**/*.py"], None)] == ["lib/a.py"]
    assert [s.path for s in resolve_sources(ctx, ["/lib/*.txt"], None)] == ["lib/b.txt"]


def test_a_source_naming_nothing_is_an_error_naming_it(ctx: Path) -> None:
    with pytest.raises(SourceError, match='^COPY source "nope.txt" not found in the build context$'):
        resolve_sources(ctx, ["app.py", "nope.txt"], None)
    with pytest.raises(SourceError, match='^Dockerfile:7: ADD source "\\*.zip" matches no file in the build context$'):
        resolve_sources(ctx, ["*.zip"], None, instruction="ADD", where="Dockerfile:7")
    with pytest.raises(SourceError) as caught:
        resolve_sources(ctx, ["app.py/x"], None)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("pattern", ["../outside", "lib/../../outside", ".."])
def test_sources_outside_the_context_are_refused(ctx: Path, pattern: str) -> None:
    (ctx.parent / "outside").write_text("secret")
    with pytest.raises(SourceError, match=f'source "{pattern}" is outside the build context'):
        resolve_sources(ctx, [pattern], None)


def test_ignored_sources_do_not_exist(ctx: Path) -> None:
    matcher = Matcher(["docs", "lib/*.txt", "!lib/sub"])
    with pytest.raises(SourceError, match='"docs/x.md" not found .*excluded by the ignore patterns'):
        resolve_sources(ctx, ["docs/x.md"], matcher)
    assert [s.path for s in resolve_sources(ctx, ["lib/*"], matcher)] == ["lib/a.py", "lib/sub"]
    with pytest.raises(SourceError, match="matches no file"):
        resolve_sources(ctx, ["*/*.md"], matcher)


def test_an_excluded_folder_exists_when_an_exception_keeps_something_inside(ctx: Path) -> None:
    assert paths(resolve_sources(ctx, ["docs"], Matcher(["docs", "!docs/x.md"]))) == [("docs", "docs", True)]
    with pytest.raises(SourceError):
        resolve_sources(ctx, ["docs"], Matcher(["docs", "!docs/y.md"]))


def test_a_symlink_source_is_followed_inside_the_context(ctx: Path) -> None:
    tree(ctx, {"link": "->lib/a.py", "dirlink": "->lib", "abs": "->/lib/b.txt", "up": "->../../../app.py",
               "via/": "", "via/hop": "->../dirlink"})
    assert paths(resolve_sources(ctx, ["link", "dirlink", "abs", "up", "via/hop/sub"], None)) == [
        ("link", "lib/a.py", False), ("dirlink", "lib", True), ("abs", "lib/b.txt", False),
        ("up", "app.py", False),  # `..` stops at the context root
        ("via/hop/sub", "lib/sub", True),
    ]
    # a wildcard match that is a symlink is followed too
    assert paths(resolve_sources(ctx, ["l*k"], None)) == [("link", "lib/a.py", False)]
    # not following keeps the link itself (its parents are still followed)
    assert paths(resolve_sources(ctx, ["link", "dirlink/a.py"], None, follow=False)) == [
        ("link", "link", False), ("dirlink/a.py", "lib/a.py", False)]


def test_broken_looping_and_ignored_symlink_targets(ctx: Path) -> None:
    tree(ctx, {"dangling": "->missing", "loop1": "->loop2", "loop2": "->loop1", "todocs": "->docs/x.md",
               "passwd": "->/etc/passwd"})
    for name in ("dangling", "passwd"):
        with pytest.raises(SourceError, match="not found"):
            resolve_sources(ctx, [name], None)
    with pytest.raises(SourceError, match="more than 255 symbolic links"):
        resolve_sources(ctx, ["loop1"], None)
    assert paths(resolve_sources(ctx, ["todocs"], None)) == [("todocs", "docs/x.md", False)]
    with pytest.raises(SourceError, match="not found"):
        resolve_sources(ctx, ["todocs"], Matcher(["docs"]))


# --- walking a source --------------------------------------------------------------------

def test_walk_lists_a_folder_in_name_order_parents_first(ctx: Path) -> None:
    tree(ctx, {"lib/sub/link": "->../a.py"})
    (lib,) = resolve_sources(ctx, ["lib"], None)
    assert listed(ctx, lib, None) == [".", "a.py", "b.txt", "sub", "sub/c.py", "sub/link"]
    stats = dict(walk(ctx, lib, None))
    assert os.path.islink(ctx / "lib/sub/link") and stats["sub/link"].st_size == len("../a.py")
    (app,) = resolve_sources(ctx, ["app.py"], None)
    assert listed(ctx, app, None) == ["."]


def test_walk_leaves_out_ignored_paths_matched_from_the_context_root(ctx: Path) -> None:
    (lib,) = resolve_sources(ctx, ["lib"], None)
    assert listed(ctx, lib, Matcher(["*.py", "lib/*.txt"])) == [".", "a.py", "sub", "sub/c.py"]
    assert listed(ctx, lib, Matcher(["**/*.py"])) == [".", "b.txt", "sub"]
    (root,) = resolve_sources(ctx, ["."], None)
    assert listed(ctx, root, Matcher(["lib", "docs", "empty"])) == [".", "app.py"]


def test_walk_shows_an_excluded_folder_only_as_the_parent_of_what_exceptions_keep(ctx: Path) -> None:
    tree(ctx, {"lib/sub/deep/d.py": "d", "lib/sub/deep/e.txt": "e"})
    (root,) = resolve_sources(ctx, ["."], None)
    matcher = Matcher(["lib", "docs", "!lib/sub/deep/d.py"])
    assert listed(ctx, root, matcher) == [".", "app.py", "empty", "lib", "lib/sub", "lib/sub/deep",
                                          "lib/sub/deep/d.py"]
    wild = Matcher(["*", "!**/*.txt"])
    assert listed(ctx, root, wild) == [".", "lib", "lib/b.txt", "lib/sub", "lib/sub/deep", "lib/sub/deep/e.txt"]


def test_walk_applies_copy_exclude_from_the_source(ctx: Path) -> None:
    (lib,) = resolve_sources(ctx, ["lib"], None)
    assert listed(ctx, lib, None, Matcher(["*.py"])) == [".", "b.txt", "sub", "sub/c.py"]
    assert listed(ctx, lib, None, Matcher(["sub", "!sub/c.py"])) == [".", "a.py", "b.txt", "sub", "sub/c.py"]
    assert listed(ctx, lib, Matcher(["lib/b.txt"]), Matcher(["sub"])) == [".", "a.py"]


# --- the content digest ------------------------------------------------------------------

def hasher(tmp_path: Path, **kwargs: float) -> ContentHasher:
    return ContentHasher(tmp_path / "cache" / "stat.db", **kwargs)


def digest_of(tmp_path: Path, ctx: Path, patterns: list[str], matcher: Matcher | None = None) -> str:
    with hasher(tmp_path, racy_window=0) as h:
        return h.digest(ctx, resolve_sources(ctx, patterns, matcher), matcher)


def test_digest_is_stable_and_touch_keeps_it(tmp_path: Path, ctx: Path) -> None:
    first = digest_of(tmp_path, ctx, ["."])
    assert first.startswith("sha256:") and len(first) == 7 + 64
    assert digest_of(tmp_path, ctx, ["."]) == first
    os.utime(ctx / "lib/a.py", ns=(1, 1))
    os.utime(ctx / "lib", ns=(2, 2))
    assert digest_of(tmp_path, ctx, ["."]) == first


def test_digest_changes_with_content_mode_links_and_names(tmp_path: Path, ctx: Path) -> None:
    tree(ctx, {"link": "->app.py"})
    seen = {digest_of(tmp_path, ctx, ["."])}

    def changed() -> None:
        now = digest_of(tmp_path, ctx, ["."])
        assert now not in seen
        seen.add(now)

    (ctx / "lib/a.py").write_text("A")  # same size, new bytes
    changed()
    os.chmod(ctx / "lib/a.py", 0o755)
    changed()
    os.chmod(ctx / "lib", 0o700)
    changed()
    (ctx / "link").unlink()
    (ctx / "link").symlink_to("lib/a.py")
    changed()
    (ctx / "lib/b.txt").rename(ctx / "lib/B.txt")
    changed()
    (ctx / "empty/new").mkdir()
    changed()
    os.link(ctx / "lib/sub/c.py", ctx / "lib/sub/c2.py")
    changed()


def test_digest_changes_with_the_owner(tmp_path: Path, ctx: Path) -> None:
    before = digest_of(tmp_path, ctx, ["lib"])
    target = ctx / "lib/a.py"
    if os.geteuid() == 0:
        os.chown(target, 1234, 5678)
    else:
        others = [g for g in os.getgroups() if g != os.stat(target).st_gid]
        if not others:
            pytest.skip("no other group to give the file to without root")
        os.chown(target, -1, others[0])
    assert digest_of(tmp_path, ctx, ["lib"]) != before


def test_digest_covers_only_what_is_copied(tmp_path: Path, ctx: Path) -> None:
    matcher = Matcher(["docs", "**/*.txt"])
    before = digest_of(tmp_path, ctx, ["."], matcher)
    (ctx / "docs/x.md").write_text("changed")
    (ctx / "lib/b.txt").write_text("changed too")
    (ctx / "docs/new.md").write_text("new")
    assert digest_of(tmp_path, ctx, ["."], matcher) == before
    lib_only = digest_of(tmp_path, ctx, ["lib"])
    (ctx / "app.py").write_text("outside lib")
    assert digest_of(tmp_path, ctx, ["lib"]) == lib_only


def test_digest_names_the_sources(tmp_path: Path, ctx: Path) -> None:
    tree(ctx, {"same.py": "a"})
    assert digest_of(tmp_path, ctx, ["lib/a.py"]) != digest_of(tmp_path, ctx, ["same.py"])
    assert digest_of(tmp_path, ctx, ["lib/a.py", "app.py"]) != digest_of(tmp_path, ctx, ["app.py", "lib/a.py"])


def test_unchanged_files_come_from_the_stat_cache(tmp_path: Path, ctx: Path) -> None:
    sources = resolve_sources(ctx, ["."], None)
    with hasher(tmp_path, racy_window=0) as h:
        first = h.digest(ctx, sources, None)
        assert h.files_read == 5
        assert h.digest(ctx, sources, None) == first
        assert h.files_read == 5
    with hasher(tmp_path, racy_window=0) as again:  # persisted
        assert again.digest(ctx, sources, None) == first
        assert again.files_read == 0
        os.utime(ctx / "app.py")  # touched: read again, same digest
        assert again.digest(ctx, sources, None) == first
        assert again.files_read == 1


def test_a_rewrite_that_restores_size_and_mtime_is_still_seen(tmp_path: Path, ctx: Path) -> None:
    target = ctx / "lib/a.py"
    sources = resolve_sources(ctx, ["lib"], None)
    with hasher(tmp_path, racy_window=0) as h:
        first = h.digest(ctx, sources, None)
        before = target.stat()
        target.write_text("z")
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert target.stat().st_mtime_ns == before.st_mtime_ns
        assert h.digest(ctx, sources, None) != first  # the ctime moved


def test_files_changed_too_recently_are_not_cached(tmp_path: Path, ctx: Path) -> None:
    sources = resolve_sources(ctx, ["lib"], None)
    with hasher(tmp_path) as h:  # the default window: these files were just written
        h.digest(ctx, sources, None)
        h.digest(ctx, sources, None)
        assert h.files_read == 6


def test_a_damaged_cache_is_started_afresh(tmp_path: Path, ctx: Path) -> None:
    db = tmp_path / "cache" / "stat.db"
    db.parent.mkdir()
    db.write_bytes(b"not a database at all" * 100)
    with ContentHasher(db, racy_window=0) as h:
        digest = h.digest(ctx, resolve_sources(ctx, ["lib"], None), None)
    assert digest == digest_of(tmp_path / "other", ctx, ["lib"])
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT count(*) FROM files").fetchone()[0] == 3


def test_an_unreadable_cache_location_only_costs_reading(tmp_path: Path, ctx: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with ContentHasher(blocker / "stat.db") as h:
        assert h.digest(ctx, resolve_sources(ctx, ["lib"], None), None) == digest_of(tmp_path, ctx, ["lib"])


def test_a_vanished_source_is_a_clear_error(ctx: Path) -> None:
    (source,) = resolve_sources(ctx, ["lib/a.py"], None)
    (ctx / "lib/a.py").unlink()
    with pytest.raises(SourceError, match='^cannot read "lib/a.py" in the build context: No such file or directory$'):
        list(walk(ctx, source, None))
