"""stackup.testing.trees.flatten_layers: layers applied as Docker applies them."""

import io

import pytest

from stackup.testing.builds import comparable_config
from stackup.testing.layers import TarBuilder
from stackup.testing.trees import flatten_layers, tree_differences


def flat(*layers: TarBuilder):
    return flatten_layers(io.BytesIO(layer.bytes()) for layer in layers)


def test_whiteouts_remove_lower_paths_and_their_content():
    tree = flat(TarBuilder().dir("a").file("a/x", b"x").dir("a/sub").file("a/sub/y").file("keep"),
                TarBuilder().dir("a").whiteout("a/sub").whiteout("keep"))
    assert sorted(tree) == ["a", "a/x"]


def test_an_opaque_folder_keeps_only_its_own_layers_entries():
    tree = flat(TarBuilder().dir("d").file("d/old").dir("d/olddir").file("d/olddir/f"),
                TarBuilder().dir("d", mode=0o700).opaque("d").file("d/new", b"n"))
    assert sorted(tree) == ["d", "d/new"]
    assert tree["d"].mode == 0o700


def test_a_file_replaces_a_folder_and_a_folder_a_file():
    tree = flat(TarBuilder().dir("x").file("x/in").file("y", b"file"),
                TarBuilder().file("x", b"now a file").dir("y").file("y/in"))
    assert (tree["x"].type, tree["y"].type) == ("file", "dir")
    assert "x/in" not in tree and "y/in" in tree


def test_a_folder_over_a_folder_sets_its_metadata_only():
    tree = flat(TarBuilder().dir("d").file("d/f"), TarBuilder().dir("d", mode=0o750, uid=5, gid=6))
    assert (tree["d"].mode, tree["d"].uid, tree["d"].gid) == (0o750, 5, 6)
    assert "d/f" in tree


def test_hard_links_are_named_by_their_group_whatever_name_came_first():
    one = flat(TarBuilder().file("b", b"same").hardlink("a", "b"))
    two = flat(TarBuilder().file("a", b"same").hardlink("b", "a"))
    assert tree_differences(one, two) == []
    assert one["a"].link == one["b"].link == "a"
    assert one["a"].sha256 == one["b"].sha256


def test_a_rewritten_name_leaves_the_link_group():
    tree = flat(TarBuilder().file("a", b"1").hardlink("b", "a").hardlink("c", "a"),
                TarBuilder().file("b", b"2"))
    assert (tree["a"].link, tree["b"].link, tree["c"].link) == ("a", "", "a")


def test_missing_parents_are_made_as_docker_makes_them():
    tree = flat(TarBuilder().file("deep/er/f"))
    assert (tree["deep"].type, tree["deep"].mode, tree["deep/er"].uid) == ("dir", 0o755, 0)


def test_mtimes_do_not_count_but_modes_owners_contents_and_targets_do():
    base = TarBuilder(mtime=1).file("f", b"x").symlink("l", "f")
    assert tree_differences(flat(base), flat(TarBuilder(mtime=2).file("f", b"x").symlink("l", "f"))) == []
    for other in (TarBuilder().file("f", b"y").symlink("l", "f"),
                  TarBuilder().file("f", b"x", mode=0o600).symlink("l", "f"),
                  TarBuilder().file("f", b"x", uid=1).symlink("l", "f"),
                  TarBuilder().file("f", b"x").symlink("l", "g")):
        assert tree_differences(flat(TarBuilder().file("f", b"x").symlink("l", "f")), flat(other))


def test_a_hard_link_to_nothing_is_an_error():
    with pytest.raises(ValueError, match="hard link"):
        flat(TarBuilder().hardlink("a", "nothing"))


def test_comparable_config_reads_null_and_empty_alike_but_keeps_an_empty_cmd():
    doc = {"author": "me", "config": {"Env": None, "Labels": {}, "OnBuild": [], "Cmd": [], "WorkingDir": ""}}
    out = comparable_config(doc)
    assert (out["Env"], out["Labels"], out["OnBuild"], out["WorkingDir"]) == (None, None, None, None)
    assert (out["Cmd"], out["Author"]) == ([], "me")
