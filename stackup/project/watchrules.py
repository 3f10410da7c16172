"""`develop.watch` rules, and what a batch of changed files asks of each service.

Compose's semantics: a rule watches `path` (a folder or one file); a changed file under
it counts unless the rule's `ignore` (patterns relative to `path`), the build
context's `.dockerignore` (relative to the context) or the editors' scratch files
exclude it, and, when the rule has `include`, only if one of those patterns matches.
Its `action` says what the change does to the service: `sync` copies it to
`target` in the containers (a deleted file is deleted there), `sync+restart` then
restarts them, `sync+exec` then runs a command in each, `restart` only restarts,
and `rebuild` builds the image again and recreates the containers (nothing else is
done for that service in that batch: the new containers hold the new files).

Pure but for reading the changed folders (a new folder is synced with all it holds).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackup.engine.build.dockerignore import Matcher, read_ignore
from stackup.errors import UserError

SYNC_ACTIONS = ("sync", "sync+restart", "sync+exec")
# what editors and tools write beside the files they edit, never worth a sync (compose's
# ephemeral matcher, plus version control folders)
EPHEMERAL = Matcher(["**/.git", "**/.hg", "**/.svn", "**/*.swp", "**/*.swx", "**/*~", "**/.#*", "**/#*#",
                     "**/4913", "**/.DS_Store", "**/___jb_tmp___", "**/___jb_old___"])


@dataclass(frozen=True)
class Hook:
    """`sync+exec`'s command."""

    command: list[str]
    user: str | None = None
    working_dir: str | None = None
    environment: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    service: str
    path: Path
    action: str
    target: str | None = None
    ignore: Matcher = field(default_factory=lambda: Matcher(()))
    include: Matcher | None = None
    context: Path | None = None                     # the build context, for its .dockerignore
    context_ignore: Matcher = field(default_factory=lambda: Matcher(()))
    exec: Hook | None = None
    initial_sync: bool = False

    def relative(self, path: Path) -> str | None:
        """`path` relative to the rule's (`""` for the path itself) when the rule takes a
        change of it, else None."""
        try:
            rel = path.relative_to(self.path).as_posix()
        except ValueError:
            return None
        rel = "" if rel == "." else rel
        if EPHEMERAL.excludes(rel or path.name):
            return None
        if rel and self.ignore.excludes(rel):
            return None
        if self.context is not None and self.context_ignore:
            try:
                in_context = path.relative_to(self.context).as_posix()
            except ValueError:
                in_context = ""
            if in_context and self.context_ignore.excludes(in_context):
                return None
        if self.include is not None and rel and not self.include.excludes(rel):
            return None
        return rel

    def target_of(self, rel: str) -> str:
        return posixpath.join(self.target or "/", rel) if rel else (self.target or "/")


@dataclass
class Work:
    """What one batch asks of one service."""

    rebuild: bool = False
    restart: bool = False
    copies: dict[str, Path] = field(default_factory=dict)      # container path -> host path
    deletions: set[str] = field(default_factory=set)
    execs: list[Hook] = field(default_factory=list)
    changed: int = 0

    @property
    def syncs(self) -> bool:
        return bool(self.copies or self.deletions)


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _patterns(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _environment(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [f"{k}={'' if v is None else v}" for k, v in value.items()]
    return [str(item) for item in value or []]


def _hook(value: Mapping[str, Any] | None) -> Hook | None:
    if not value or not value.get("command"):
        return None
    command = value["command"]
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else [str(c) for c in command]
    return Hook(argv, value.get("user"), value.get("working_dir"), _environment(value.get("environment")))


def _context(config: Mapping[str, Any]) -> tuple[Path | None, Matcher]:
    build = config.get("build")
    if not isinstance(build, Mapping) or not build.get("context"):
        return None, Matcher(())
    context = Path(str(build["context"]))
    if not context.is_dir():
        return None, Matcher(())
    dockerfile = context / str(build.get("dockerfile") or "Dockerfile")
    return context, read_ignore(context, dockerfile)


def rules_of(desired: Mapping[str, Any], services: Iterable[str] = ()) -> list[Rule]:
    """The watch rules of the given services (all when none is given); a UserError when
    none of them has any, as compose says."""
    all_services = desired.get("services") or {}
    chosen = sorted(set(services) or set(all_services))
    rules = []
    for name in chosen:
        config = all_services.get(name) or {}
        watches = (config.get("develop") or {}).get("watch") or []
        context, context_ignore = _context(config) if watches else (None, Matcher(()))
        for i, watch in enumerate(watches):
            action = watch["action"]
            if action == "rebuild" and not config.get("build"):
                raise UserError(f"services.{name}.develop.watch[{i}]: action rebuild needs the service "
                                "to have a build section")
            path = Path(str(watch["path"]))
            include = _patterns(watch.get("include"))
            rules.append(Rule(
                service=name, path=path, action=action, target=watch.get("target"),
                ignore=Matcher(_patterns(watch.get("ignore")), origin=f"services.{name}.develop.watch[{i}].ignore"),
                include=Matcher(include) if include else None, context=context, context_ignore=context_ignore,
                exec=_hook(watch.get("exec")), initial_sync=_true(watch.get("initial_sync"))))
    if not rules:
        raise UserError("none of the selected services is configured for watch, "
                        "consider setting a 'develop' section")
    return rules


def watched_folders(rules: Iterable[Rule]) -> list[Path]:
    """The folders to watch: each rule's path, or the folder of a rule's file (an editor
    that saves by rename replaces the file the kernel would watch). Nested ones dropped."""
    folders = sorted({r.path if r.path.is_dir() else r.path.parent for r in rules})
    kept: list[Path] = []
    for folder in folders:
        if not any(folder.is_relative_to(k) for k in kept):
            kept.append(folder)
    return kept


def tree(rule: Rule, path: Path, rel: str) -> Iterable[tuple[Path, str]]:
    """`path` and, for a folder, everything under it the rule takes: (host path, rel)."""
    yield path, rel
    if not path.is_dir() or path.is_symlink():
        return
    for top, dirs, files in os.walk(path):
        for name in sorted(dirs) + sorted(files):
            full = Path(top) / name
            sub = rule.relative(full)
            if sub is None:
                if name in dirs:
                    dirs.remove(name)   # an ignored folder is not walked
                continue
            yield full, sub


def plan(rules: Iterable[Rule], changed: Iterable[Path]) -> dict[str, Work]:
    """Per service, what the changed paths (added, modified or deleted) ask of it."""
    works: dict[str, Work] = {}
    for path in sorted(set(changed)):
        for rule in rules:
            rel = rule.relative(path)
            if rel is None:
                continue
            work = works.setdefault(rule.service, Work())
            work.changed += 1
            if rule.action == "rebuild":
                work.rebuild = True
            if rule.action in ("restart", "sync+restart"):
                work.restart = True
            if rule.action == "sync+exec" and rule.exec is not None and rule.exec not in work.execs:
                work.execs.append(rule.exec)
            if rule.action in SYNC_ACTIONS:
                add_sync(work, rule, path, rel)
    return works


def add_sync(work: Work, rule: Rule, path: Path, rel: str) -> None:
    if os.path.lexists(path):
        for host, sub in tree(rule, path, rel):
            work.copies[rule.target_of(sub)] = host
    else:
        work.deletions.add(rule.target_of(rel))


def initial(rules: Iterable[Rule]) -> dict[str, Work]:
    """`initial_sync`: every file of the sync rules that ask for it."""
    works: dict[str, Work] = {}
    for rule in rules:
        if rule.initial_sync and rule.action in SYNC_ACTIONS and rule.path.exists():
            add_sync(works.setdefault(rule.service, Work()), rule, rule.path, "")
    return works
