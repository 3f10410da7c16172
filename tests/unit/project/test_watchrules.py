"""`develop.watch` rules: which changed paths each rule takes and what a batch asks of
each service (compose's semantics)."""

from pathlib import Path

import pytest

from stackup.errors import UserError
from stackup.project.watchrules import initial, plan, rules_of, watched_folders


def desired(tmp_path: Path, *watches: dict, build: dict | None = None) -> dict:
    config: dict = {"image": "x", "develop": {"watch": [dict(w, path=str(tmp_path / w["path"])) for w in watches]}}
    if build is not None:
        config["build"] = build
    return {"services": {"web": config, "db": {"image": "y"}}}


def test_sync_maps_paths_under_the_target_and_deletions(tmp_path):
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "a.py").write_text("a")
    rules = rules_of(desired(tmp_path, {"path": "src", "target": "/app", "action": "sync"}))
    work = plan(rules, [tmp_path / "src" / "pkg" / "a.py", tmp_path / "src" / "gone.py", tmp_path / "elsewhere"])
    assert work["web"].copies == {"/app/pkg/a.py": tmp_path / "src" / "pkg" / "a.py"}
    assert work["web"].deletions == {"/app/gone.py"}
    assert not work["web"].restart and not work["web"].rebuild


def test_a_new_folder_is_synced_with_what_it_holds_less_the_ignored(tmp_path):
    (tmp_path / "src" / "new" / "cache").mkdir(parents=True)
    (tmp_path / "src" / "new" / "f.txt").write_text("f")
    (tmp_path / "src" / "new" / "f.swp").write_text("editor")
    (tmp_path / "src" / "new" / "cache" / "c").write_text("c")
    rules = rules_of(desired(tmp_path, {"path": "src", "target": "/app", "action": "sync", "ignore": ["**/cache"]}))
    assert sorted(plan(rules, [tmp_path / "src" / "new"])["web"].copies) == ["/app/new", "/app/new/f.txt"]


def test_include_and_the_build_contexts_dockerignore(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / ".dockerignore").write_text("src/secret.md\n")
    for name in ("a.md", "b.txt", "secret.md"):
        (tmp_path / "src" / name).write_text(name)
    rules = rules_of(desired(tmp_path, {"path": "src", "target": "/d", "action": "sync", "include": "*.md"},
                             build={"context": str(tmp_path)}))
    work = plan(rules, [tmp_path / "src" / n for n in ("a.md", "b.txt", "secret.md")])
    assert list(work["web"].copies) == ["/d/a.md"]


def test_actions(tmp_path):
    rules = rules_of(desired(tmp_path, {"path": "conf", "target": "/c", "action": "sync+restart"},
                             {"path": "hooks", "target": "/h", "action": "sync+exec",
                              "exec": {"command": "make", "environment": {"A": "1"}}},
                             {"path": "requirements.txt", "action": "rebuild"},
                             {"path": "static", "action": "restart"}, build={"context": str(tmp_path)}))
    work = plan(rules, [tmp_path / "conf" / "x", tmp_path / "hooks" / "y"])["web"]
    assert work.restart and work.deletions == {"/c/x", "/h/y"}
    assert [(h.command, h.environment) for h in work.execs] == [(["/bin/sh", "-c", "make"], ["A=1"])]
    assert plan(rules, [tmp_path / "requirements.txt"])["web"].rebuild
    restart_only = plan(rules, [tmp_path / "static" / "s.css"])["web"]
    assert restart_only.restart and not restart_only.syncs


def test_initial_sync_and_watched_folders(tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "sub" / "m.py").write_text("m")
    (tmp_path / "requirements.txt").write_text("")
    rules = rules_of(desired(tmp_path, {"path": "src", "target": "/app", "action": "sync", "initial_sync": True},
                             {"path": "src/sub", "target": "/sub", "action": "sync"},
                             {"path": "requirements.txt", "action": "rebuild"}, build={"context": str(tmp_path)}))
    assert sorted(initial(rules)["web"].copies) == ["/app", "/app/sub", "/app/sub/m.py"]
    assert watched_folders(rules) == [tmp_path]


def test_refusals(tmp_path):
    with pytest.raises(UserError, match="none of the selected services is configured for watch"):
        rules_of(desired(tmp_path, {"path": "src", "target": "/a", "action": "sync"}), ["db"])
    with pytest.raises(UserError, match="rebuild needs the service to have a build section"):
        rules_of(desired(tmp_path, {"path": "src", "action": "rebuild"}))
