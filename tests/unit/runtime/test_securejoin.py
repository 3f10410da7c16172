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


def test_pin_holds_the_resolved_place(tree):
    from stackup.engine.runtime.securejoin import pin, resolved

    target = resolved(tree, "/abs_etc/passwd")
    assert target == f"{tree}/etc/passwd"
    assert (target.root, target.path) == (tree, "/abs_etc/passwd")
    fd = pin(target)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == f"{tree}/etc/passwd"
    finally:
        os.close(fd)


def test_pin_refuses_a_component_swapped_for_a_symlink_after_resolving(tree, tmp_path):
    from stackup.engine.runtime.securejoin import ResolveError, pin, resolved

    outside = tmp_path / "outside" / "etc"
    outside.mkdir(parents=True)
    (outside / "passwd").write_text("host\n")
    target = resolved(tree, "/etc/passwd")
    os.rename(f"{tree}/etc", f"{tree}/etc.old")  # what a racing writer would do
    os.symlink(str(outside), f"{tree}/etc")
    with pytest.raises(ResolveError) as info:
        pin(target)
    assert str(info.value) == "/etc/passwd changed in the container's root while it was being built"
    # the last component swapped for a symlink: refused too (O_NOFOLLOW)
    target = resolved(tree, "/etc.old/passwd")
    os.rename(f"{tree}/etc.old/passwd", f"{tree}/etc.old/passwd.old")
    os.symlink(str(outside / "passwd"), f"{tree}/etc.old/passwd")
    with pytest.raises(ResolveError):
        pin(target)


def test_pin_accepts_a_root_whose_own_host_path_has_symlinks(tree, tmp_path):
    from stackup.engine.runtime.securejoin import pin, resolved

    via = tmp_path / "via"
    via.symlink_to(tree)
    fd = pin(resolved(str(via), "/bin"))
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == f"{tree}/usr/bin"
    finally:
        os.close(fd)


def test_the_real_mount_pins_a_resolved_target_before_mounting(tree, tmp_path):
    from stackup.engine.runtime import syscalls as sc
    from stackup.engine.runtime.securejoin import ResolveError, resolved

    target = resolved(tree, "/etc")
    os.rename(f"{tree}/etc", f"{tree}/etc.old")
    os.symlink("/", f"{tree}/etc")  # would put the mount on the host's /
    with pytest.raises(ResolveError):  # refused before any mount(2)
        sc.LinuxSyscalls().mount("tmpfs", target, "tmpfs", 0, None)


def test_make_in_root_makes_directories_and_files_below_the_root(tree):
    from stackup.engine.runtime.securejoin import make_in_root, resolved

    make_in_root(resolved(tree, "/hostroot/new/a/b"), directory=True)
    assert os.path.isdir(f"{tree}/new/a/b")
    make_in_root(resolved(tree, "/new/a/b"), directory=True)  # already there: fine
    make_in_root(resolved(tree, "/abs_etc/sub/hostname"), directory=False)
    assert os.path.isfile(f"{tree}/etc/sub/hostname")
    before = os.stat(f"{tree}/etc/passwd")
    make_in_root(resolved(tree, "/etc/passwd"), directory=False)  # existing: left alone
    assert open(f"{tree}/etc/passwd").read() == "root\n" and os.stat(f"{tree}/etc/passwd") == before
    make_in_root(resolved(tree, "/etc"), directory=False)  # a directory counts as there
    with pytest.raises(ResolveError) as info:
        make_in_root(resolved(tree, "/file/x"), directory=True)
    assert str(info.value) == "cannot create /file/x in the container's root: Not a directory"


def test_make_in_root_refuses_links_swapped_in_after_resolving(tree, tmp_path):
    from stackup.engine.runtime.securejoin import make_in_root, resolved

    outside = tmp_path / "outside"
    outside.mkdir()
    for path, directory in (("/etc/new/dir", True), ("/etc/new/file", False)):
        target = resolved(tree, path)
        os.rename(f"{tree}/etc", f"{tree}/etc.old")
        os.symlink(str(outside), f"{tree}/etc")  # a racing writer's link to the host
        with pytest.raises(ResolveError) as info:
            make_in_root(target, directory)
        assert str(info.value) == f"{path} changed in the container's root while it was being built"
        os.remove(f"{tree}/etc")
        os.rename(f"{tree}/etc.old", f"{tree}/etc")
    target = resolved(tree, "/etc/hostname")
    os.symlink(str(outside / "hostname"), f"{tree}/etc/hostname")  # the file itself
    with pytest.raises(ResolveError):
        make_in_root(target, directory=False)
    assert os.listdir(outside) == []


def test_the_real_mkdir_and_touch_make_resolved_paths_without_following_links(tree, tmp_path):
    from stackup.engine.runtime import syscalls as sc
    from stackup.engine.runtime.securejoin import resolved

    target = resolved(tree, "/etc/x/y")
    os.rename(f"{tree}/etc", f"{tree}/etc.old")
    os.symlink(str(tmp_path), f"{tree}/etc")
    for call in (sc.LinuxSyscalls().mkdir, sc.LinuxSyscalls().touch):
        with pytest.raises(ResolveError):
            call(target)
    assert not (tmp_path / "x").exists()
