"""resolve_in_root against a real tree full of nasty symlinks (no root needed)."""

import errno
import os

import pytest

from stackup.engine.runtime.securejoin import ResolveError, resolve_in_root


@pytest.fixture
def tree(tmp_path):
    """root/ with: etc/ (a dir with passwd), bin -> usr/bin, abs_etc -> /etc,
    up -> ../../.., hostroot -> /, chain1 -> chain2 -> /etc, loop_a <-> loop_b,
    self -> self, dangling -> /nowhere/at/all, file (a regular file),
    etc/parent -> .., deep/er/link -> ../../../../../etc."""
    root = tmp_path / "root"
    for d in ("etc", "usr/bin", "deep/er"):
        (root / d).mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root\n")
    (root / "file").write_text("x")
    links = {"bin": "usr/bin", "abs_etc": "/etc", "up": "../../..", "hostroot": "/",
             "chain1": "chain2", "chain2": "/abs_etc", "loop_a": "loop_b", "loop_b": "/loop_a",
             "self": "self", "dangling": "/nowhere/at/all", "etc/parent": "..",
             "deep/er/link": "../../../../../etc", "dotdot_abs": "/../../etc"}
    for name, target in links.items():
        os.symlink(target, root / name)
    # what the links would reach if the kernel followed them from the host
    assert os.path.realpath(root / "hostroot") == "/" and os.path.realpath(root / "up") != str(root)
    return str(root)


def test_plain_paths_are_joined(tree):
    assert resolve_in_root(tree, "/etc/passwd") == f"{tree}/etc/passwd"
    assert resolve_in_root(tree, "etc/passwd") == f"{tree}/etc/passwd"  # relative: from root
    assert resolve_in_root(tree, "//etc///passwd/") == f"{tree}/etc/passwd"
    assert resolve_in_root(tree, "/") == tree and resolve_in_root(tree, "") == tree
    assert resolve_in_root(tree + "/", "/./etc/.") == f"{tree}/etc"


def test_missing_components_are_kept_lexically(tree):
    assert resolve_in_root(tree, "/new/dir/file") == f"{tree}/new/dir/file"
    # `..` after a missing component is lexical too, and still clamped at the root
    assert resolve_in_root(tree, "/new/../../../x") == f"{tree}/x"
    # below a regular file (ENOTDIR): nothing to follow either
    assert resolve_in_root(tree, "/file/x") == f"{tree}/file/x"


def test_relative_link(tree):
    assert resolve_in_root(tree, "/bin/sh") == f"{tree}/usr/bin/sh"


def test_absolute_link_restarts_at_the_root(tree):
    assert resolve_in_root(tree, "/abs_etc/passwd") == f"{tree}/etc/passwd"
    assert resolve_in_root(tree, "/hostroot/etc/hostname") == f"{tree}/etc/hostname"
    assert resolve_in_root(tree, "/hostroot") == tree


def test_dotdot_never_leaves_the_root(tree):
    assert resolve_in_root(tree, "/../../../etc/passwd") == f"{tree}/etc/passwd"
    assert resolve_in_root(tree, "/up/etc") == f"{tree}/etc"
    assert resolve_in_root(tree, "/up") == tree
    assert resolve_in_root(tree, "/etc/parent/etc/passwd") == f"{tree}/etc/passwd"
    assert resolve_in_root(tree, "/deep/er/link/passwd") == f"{tree}/etc/passwd"
    assert resolve_in_root(tree, "/dotdot_abs") == f"{tree}/etc"
    # `..` applies to where a link led, not to the link's own name (as the kernel does)
    assert resolve_in_root(tree, "/bin/..") == f"{tree}/usr"


def test_chains_are_followed(tree):
    assert resolve_in_root(tree, "/chain1/passwd") == f"{tree}/etc/passwd"


def test_dangling_link_resolves_to_its_target_inside_the_root(tree):
    assert resolve_in_root(tree, "/dangling") == f"{tree}/nowhere/at/all"
    assert resolve_in_root(tree, "/dangling/more") == f"{tree}/nowhere/at/all/more"


def test_loops_fail_with_a_clear_error(tree):
    for path in ("/loop_a", "/self/x", "/loop_b/etc"):
        with pytest.raises(ResolveError) as info:
            resolve_in_root(tree, path)
        assert info.value.errno == errno.ELOOP
        assert str(info.value) == (f"cannot resolve {path} in the container's root: "
                                   "more than 255 symbolic links")


def test_the_bound_on_links_is_a_parameter(tree):
    assert resolve_in_root(tree, "/chain1", max_links=3) == f"{tree}/etc"  # 3 links
    with pytest.raises(ResolveError):
        resolve_in_root(tree, "/chain1", max_links=2)


def test_follow_last_false_keeps_the_last_name(tree):
    assert resolve_in_root(tree, "/abs_etc", follow_last=False) == f"{tree}/abs_etc"
    assert resolve_in_root(tree, "/hostroot/abs_etc", follow_last=False) == f"{tree}/abs_etc"
    assert resolve_in_root(tree, "/bin/sh", follow_last=False) == f"{tree}/usr/bin/sh"
    assert resolve_in_root(tree, "/loop_a", follow_last=False) == f"{tree}/loop_a"
    assert resolve_in_root(tree, "/up/..", follow_last=False) == tree  # `..` is always walked
    assert resolve_in_root(tree, "/", follow_last=False) == tree


def test_result_never_escapes_and_has_no_symlink_in_its_existing_part(tree):
    paths = ["/bin/sh", "/abs_etc/x", "/up/up/up", "/hostroot/up/chain1/../bin", "/deep/er/link/..",
             "/etc/parent/parent/hostroot/dangling", "/chain1/parent/up/abs_etc/passwd"]
    for path in paths:
        got = resolve_in_root(tree, path)
        assert got == tree or got.startswith(tree + "/"), (path, got)
        prefix = tree
        for part in got[len(tree):].split("/")[1:]:
            prefix += "/" + part
            if not os.path.lexists(prefix):
                break
            assert not os.path.islink(prefix), (path, prefix)


def test_root_slash_is_the_plain_path():
    assert resolve_in_root("/", "/a/../b") == "/b"
