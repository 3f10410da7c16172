"""The filesystem steps (RUN, COPY, ADD, WORKDIR): found in the cache by key, or run.

A step's key is its parent's key plus everything its result depends on: the instruction
after expansion, the env/args/user/workdir/shell it runs with, its mounts, and for what it
copies from the context the content (modes, owners, bytes; never mtimes). A hit reuses the
recorded layer; a miss runs the step on a snapshot of the stage (a RUN in a container of
stackup's runtime, a COPY on an overlay mount) and commits what changed as a layer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackup.engine import state as st
from stackup.engine.build import cache as cachemod
from stackup.engine.build import commit, copy, snapshot
from stackup.engine.build import context as ctxmod
from stackup.engine.build import dockerignore, runstep
from stackup.engine.build.cache import BuildCache, step_key
from stackup.engine.build.model import BuildOptions, LayerRef, RunMount, RunStep
from stackup.engine.build.stage import PROXY_ARGS, StageState
from stackup.engine.images import platform as plat
from stackup.engine.images.store import ImageStore, now_rfc3339
from stackup.errors import StackupError, UnsupportedError, UserError


class Cancelled(StackupError):
    """Another stage of the build failed: this one stops at its next step."""


@dataclass
class StepContext:
    """What the steps of one build share (the stages' threads read it; writes are locked)."""

    options: BuildOptions
    store: ImageStore
    cache: BuildCache
    vertices: Any
    cleanup: ExitStack
    scratch: Path
    stages: list[Any] = field(default_factory=list)
    used_args: set[str] = field(default_factory=set)
    maintainer: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)
    pull_lock: threading.Lock = field(default_factory=threading.Lock)
    network_lock: threading.Lock = field(default_factory=threading.Lock)
    stage_result: Callable[[int], StageState] = field(default=lambda index: StageState())
    _network: Any = None
    _matcher: Any = None
    _hasher: Any = None

    @classmethod
    def open(cls, options: BuildOptions, store: ImageStore, cache: BuildCache, vertices: Any,
             cleanup: ExitStack) -> StepContext:
        base = cachemod.root() / "tmp"
        st.ensure_dir(base, 0o700)
        snapshot.sweep(base)  # what a killed build left (mounts first, then folders)
        scratch = Path(tempfile.mkdtemp(prefix="b-", dir=base))
        cleanup.callback(shutil.rmtree, scratch, True)
        return cls(options, store, cache, vertices, cleanup, scratch)

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled("build cancelled: another stage failed")

    def check_platform(self, text: str, where: str) -> None:
        wanted, host = plat.parse(text), plat.host()
        if (wanted.os, wanted.architecture) != (host.os, host.architecture):
            raise UnsupportedError(f"{where}: FROM --platform={text}: stackup builds only for this "
                                   f"machine's platform ({host})")

    # --- shared, made on first use --------------------------------------------------------

    def matcher(self) -> Any:
        if self._matcher is None:
            dockerfile = self.options.dockerfile or self.options.context / "Dockerfile"
            self._matcher = dockerignore.read_ignore(self.options.context, dockerfile)
        return self._matcher

    def hasher(self) -> Any:
        if self._hasher is None:
            self._hasher = ctxmod.ContentHasher(self.cache.base / "statcache.db")
        return self._hasher

    def network(self) -> Any:
        """The build's NAT network, made when the first RUN that needs it runs."""
        with self.network_lock:
            if self._network is None:
                self._network = self.cleanup.enter_context(runstep.BuildNetwork())
            return self._network

    def scratch_dir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.scratch))


def run_step(context: StepContext, state: StageState, ins: Any, title: str, stage: Any) -> None:
    vertex = context.vertices.start(title)
    try:
        kind = ins.keyword
        if kind == "RUN":
            _run(context, state, ins, vertex)
        elif kind in ("COPY", "ADD"):
            _copy(context, state, ins, vertex)
        else:
            _workdir(context, state, ins, vertex)
    except StackupError as exc:
        vertex.failed(str(exc))
        raise
    except BaseException as exc:
        vertex.failed(type(exc).__name__)
        raise


def _reuse_or_make(context: StepContext, state: StageState, key: str, description: str,
                   vertex: Any, make: Callable[[], LayerRef | None], history: str) -> None:
    record = None if context.options.no_cache else context.cache.get(key)
    if record is not None:
        vertex.cached()
    else:
        created = now_rfc3339()
        layer = make()
        record = context.cache.put(key, layer, description, created)
        vertex.done()
    layer_dir = context.store.layers.path(record.layer.chain_id) if record.layer else None
    state.add_layer(record.layer, layer_dir, key, record.created)
    state.record(history, record.layer is None, record.created)


def _parent_chain(state: StageState) -> str | None:
    return state.layers[-1].chain_id if state.layers else None


# --- RUN -------------------------------------------------------------------------------

def _run(context: StepContext, state: StageState, ins: Any, vertex: Any) -> None:
    if ins.shell_form:
        argv = [*state.shell, ins.command]
    else:
        argv = list(ins.command)
    network = ins.network or context.options.network or "default"
    if network not in ("default", "none", "host"):
        raise UserError(f"RUN --network={network}: expected default, none or host")
    proxies = {k: v for k, v in context.options.build_args.items() if k in PROXY_ARGS}
    env = state.run_env(proxies)
    for name in proxies:
        context.used_args.add(name)
    keyed_env = [e for e in env if e.partition("=")[0] not in proxies or e.partition("=")[0] in state.env()]
    with ExitStack() as mounts_cleanup:
        mounts, mounts_key, secret_env = _mounts(context, state, ins, mounts_cleanup)
        key = step_key("RUN", state.key, argv, keyed_env, state.user, state.workdir, network,
                       mounts_key, ins.heredoc_files() if hasattr(ins, "heredoc_files") else [])
        run_args = state.run_args()
        shown = " ".join(argv)
        history = f"RUN |{len(run_args)} {' '.join(run_args)} {shown} # buildkit" if run_args \
            else f"RUN {shown} # buildkit"

        def make() -> LayerRef | None:
            net = context.network().name if network == "default" else network
            step = RunStep(layers=list(state.layer_dirs), argv=argv, env=env + secret_env,
                           user=state.user, workdir=state.workdir, mounts=mounts, network=net,
                           extra_hosts=list(context.options.extra_hosts),
                           shm_size=context.options.shm_size, label=vertex.title)
            result = runstep.run_step(step, vertex.output)
            try:
                if result.exit_code != 0:
                    tail = "; ".join(result.tail[-5:])
                    raise StepFailed(
                        f"process \"{shown}\" did not complete successfully: exit code: "
                        f"{result.exit_code}" + (f" (last output: {tail})" if tail else ""),
                        ins, result.tail)
                return commit.commit(context.store, result.upper, _parent_chain(state))
            finally:
                shutil.rmtree(result.upper, ignore_errors=True)

        _reuse_or_make(context, state, key, f"RUN {shown}", vertex, make, history)


class StepFailed(StackupError):
    """A RUN that exited non-zero: names the Dockerfile line, the command and its exit code."""

    def __init__(self, message: str, ins: Any, tail: list[str]):
        where = f"{ins.node.filename}:{ins.node.line}"
        super().__init__(f"{where}: failed to solve: {message}")
        self.tail = tail


def _mounts(context: StepContext, state: StageState, ins: Any,
            cleanup: ExitStack) -> tuple[list[RunMount], list[Any], list[str]]:
    """The RUN's --mount flags as runtime mounts, what of them goes into the key, and the
    env a secret mount with env= adds (never keyed)."""
    mounts: list[RunMount] = []
    keyed: list[Any] = []
    secret_env: list[str] = []
    for spec in getattr(ins, "mounts", None) or []:
        target = _absolute(spec.target or "", state.workdir) if spec.target else ""
        if spec.type == "cache":
            mounts.append(_cache_mount(context, state, spec, target, cleanup))
            keyed.append(["cache", target])  # its content never enters the key
        elif spec.type == "tmpfs":
            mounts.append(RunMount("tmpfs", target, size=int(getattr(spec, "size", 0) or 0)))
            keyed.append(["tmpfs", target, getattr(spec, "size", 0)])
        elif spec.type == "bind":
            source, digest = _bind_source(context, state, spec, cleanup)
            mounts.append(RunMount("bind", target, str(source), read_only=not spec.readwrite))
            keyed.append(["bind", target, spec.source or "", digest, spec.readwrite])
        elif spec.type == "secret":
            made = _secret(context, spec, target, cleanup)
            if made is None:
                continue
            if isinstance(made, str):
                secret_env.append(made)
            else:
                mounts.append(made)
            keyed.append(["secret", spec.id, target, spec.env or ""])
        else:
            raise UnsupportedError(f"RUN --mount=type={spec.type} is not supported by stackup")
    return mounts, keyed, secret_env


def _cache_mount(context: StepContext, state: StageState, spec: Any, target: str,
                 cleanup: ExitStack) -> RunMount:
    ident = spec.id or target
    folder = context.cache.mount_dir(ident)
    uid, gid = int(spec.uid or 0), int(spec.gid or 0)
    mode = int(spec.mode, 8) if spec.mode else 0o755
    st_ = folder.stat()
    if (st_.st_uid, st_.st_gid) != (uid, gid) and not any(folder.iterdir()):
        os.chown(folder, uid, gid)
    if not any(folder.iterdir()):
        os.chmod(folder, mode)
        if spec.from_:
            _seed_cache(context, state, spec, folder, cleanup)
    sharing = spec.sharing or "shared"
    if sharing == "locked":
        cleanup.enter_context(st.locked(folder.with_name(folder.name + ".lock")))
    elif sharing == "private":
        lock = folder.with_name(folder.name + ".lock")
        busy = cleanup.enter_context(st.try_locked(lock))
        if not busy:  # in use by another step: this one gets a fresh folder of its own
            folder = context.scratch_dir("cache-private-")
            os.chmod(folder, mode)
            os.chown(folder, uid, gid)
    elif sharing != "shared":
        raise UserError(f"RUN --mount=type=cache,sharing={sharing}: expected shared, private or locked")
    return RunMount("bind", target, str(folder))


def _seed_cache(context: StepContext, state: StageState, spec: Any, folder: Path,
                cleanup: ExitStack) -> None:
    source, _ = _bind_source(context, state, spec, cleanup)
    shutil.copytree(source, folder, symlinks=True, dirs_exist_ok=True)


def _bind_source(context: StepContext, state: StageState, spec: Any,
                 cleanup: ExitStack) -> tuple[Path, str]:
    """The host folder or file a bind mount (or a cache's seed) comes from, and its digest."""
    rel = (spec.source or "/").lstrip("/")
    if spec.from_:
        root, key = _other_root(context, spec.from_, cleanup)
    else:
        root = context.options.context
        sources = ctxmod.resolve_sources(root, [rel or "."], context.matcher())
        key = context.hasher().digest(root, sources, context.matcher())
    from stackup.engine.runtime.securejoin import resolved

    path = Path(resolved(str(root), "/" + rel))
    if not path.exists():
        raise UserError(f"RUN --mount source {spec.source!r}: not found")
    return path, key


def _other_root(context: StepContext, name: str, cleanup: ExitStack) -> tuple[Path, str]:
    """A read-only view of an earlier stage, a named additional context or an image."""
    from stackup.engine.build.dispatch import stage_index

    index = stage_index(context.stages, name, len(context.stages))
    if name in context.options.additional_contexts:
        where = context.options.additional_contexts[name]
        if not where.startswith("docker-image://"):
            folder = Path(where)
            sources = ctxmod.resolve_sources(folder, ["."], None)
            return folder, context.hasher().digest(folder, sources, None)
        name, index = where[len("docker-image://"):], None
    if index is not None:
        other = context.stage_result(index)
        view = cleanup.enter_context(snapshot.mounted(other.layer_dirs, context.scratch, writable=False))
        return Path(view.root), other.key
    image = context.store.resolve(name) if context.store.exists(name) else _pull(context, name)
    view = cleanup.enter_context(snapshot.mounted(image.layer_dirs(), context.scratch, writable=False))
    return Path(view.root), image.id


def _pull(context: StepContext, name: str) -> Any:
    from stackup.engine.images.pull import pull

    with context.pull_lock:
        if not context.store.exists(name):
            pull(context.store, name)
    return context.store.resolve(name)


def _secret(context: StepContext, spec: Any, target: str, cleanup: ExitStack) -> RunMount | str | None:
    source = context.options.secrets.get(spec.id or "")
    if source is None:
        if spec.required:
            raise UserError(f"RUN --mount=type=secret,id={spec.id}: secret not given "
                            "(docker build --secret id=...; compose build.secrets)")
        return None
    if spec.env:
        return f"{spec.env}={Path(source).read_text()}"
    copied = context.scratch_dir("secret-") / "secret"
    shutil.copyfile(source, copied)
    os.chmod(copied, int(spec.mode, 8) if spec.mode else 0o400)
    os.chown(copied, int(spec.uid or 0), int(spec.gid or 0))
    return RunMount("bind", target or f"/run/secrets/{spec.id}", str(copied), read_only=True)


def _absolute(path: str, workdir: str) -> str:
    return path if path.startswith("/") else os.path.normpath(os.path.join(workdir, path))


# --- COPY and ADD --------------------------------------------------------------------------

def _copy(context: StepContext, state: StageState, ins: Any, vertex: Any) -> None:
    with ExitStack() as cleanup:
        urls = [s for s in ins.sources if ins.keyword == "ADD" and _is_url(s)]
        if urls:
            _add_urls(context, state, ins, vertex, cleanup)
            return
        if ins.from_:
            root, digest = _other_root(context, ins.from_, cleanup)
            matcher = None
        else:
            root, matcher = context.options.context, context.matcher()
            digest = ""
        heredocs = _heredoc_sources(context, ins)
        patterns = [s for s in ins.sources if s not in heredocs]
        sources = ctxmod.resolve_sources(root, patterns, matcher) if patterns else []
        if not ins.from_ and sources:
            digest = context.hasher().digest(root, sources, matcher)
        key = step_key(ins.keyword, state.key, _copy_identity(ins), state.workdir, digest,
                       sorted(heredocs.items()))
        history = f"{ins.keyword} {' '.join([*ins.sources, ins.dest])} # buildkit"

        def make() -> LayerRef | None:
            with snapshot.mounted(state.layer_dirs, context.scratch) as view:
                if heredocs:
                    folder = context.scratch_dir("heredoc-")
                    for name, content in heredocs.items():
                        (folder / name).write_text(content)
                    copy.copy_in(folder, [(name, False) for name in heredocs], Path(view.root),
                                 ins.dest, workdir=state.workdir, chown=ins.chown,
                                 chmod=ins.chmod)
                if sources:
                    _copy_sources(ins, root, sources, matcher, Path(view.root), state)
                upper = view.detach_upper()
            try:
                return commit.commit(context.store, upper, _parent_chain(state))
            finally:
                shutil.rmtree(upper, ignore_errors=True)

        _reuse_or_make(context, state, key, history.removesuffix(" # buildkit"), vertex, make,
                       history)


def _copy_sources(ins: Any, root: Path, sources: list[Any], matcher: Any, dest_root: Path,
                  state: StageState) -> None:
    excluded = matcher.excludes if matcher is not None else None
    if ins.keyword == "ADD":
        archives = [s for s in sources if not s.is_dir and copy.is_archive(root / s.path)]
        for archive in archives:
            copy.add_tar(root / archive.path, dest_root, ins.dest, workdir=state.workdir)
        sources = [s for s in sources if s not in archives]
        if not sources:
            return
    copy.copy_in(root, [(s.path, s.is_dir) for s in sources], dest_root, ins.dest,
                 workdir=state.workdir, chown=ins.chown, chmod=ins.chmod,
                 parents=bool(getattr(ins, "parents", False)),
                 exclude=list(getattr(ins, "exclude", []) or []), excluded=excluded)


def _copy_identity(ins: Any) -> list[Any]:
    return [list(ins.sources), ins.dest, ins.from_ or "", ins.chown or "", ins.chmod or "",
            bool(getattr(ins, "link", False)), bool(getattr(ins, "parents", False)),
            list(getattr(ins, "exclude", []) or []), getattr(ins, "checksum", "") or ""]


def _heredoc_sources(context: StepContext, ins: Any) -> dict[str, str]:
    return {h.name: h.content for h in getattr(ins, "heredocs", None) or []}


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _add_urls(context: StepContext, state: StageState, ins: Any, vertex: Any,
              cleanup: ExitStack) -> None:
    if any(not _is_url(s) for s in ins.sources):
        raise UserError(f"{ins.node.filename}:{ins.node.line}: ADD: mixing URLs and local "
                        "sources in one ADD is not supported; use two")
    folder = context.scratch_dir("download-")
    files = [copy.download(url, folder, ins.dest, checksum=getattr(ins, "checksum", None))
             for url in ins.sources]
    sources = [(f.name, False) for f in files]
    digest = ctxmod.ContentHasher(None).digest(folder, ctxmod.resolve_sources(
        folder, [f.name for f in files], None), None)
    key = step_key("ADD", state.key, _copy_identity(ins), state.workdir, digest)
    history = f"ADD {' '.join([*ins.sources, ins.dest])} # buildkit"

    def make() -> LayerRef | None:
        with snapshot.mounted(state.layer_dirs, context.scratch) as view:
            copy.copy_in(folder, sources, Path(view.root), ins.dest, workdir=state.workdir,
                         chown=ins.chown, chmod=ins.chmod, keep_owner=False)
            upper = view.detach_upper()
        try:
            return commit.commit(context.store, upper, _parent_chain(state))
        finally:
            shutil.rmtree(upper, ignore_errors=True)

    _reuse_or_make(context, state, key, history.removesuffix(" # buildkit"), vertex, make, history)


# --- WORKDIR ---------------------------------------------------------------------------------

def _workdir(context: StepContext, state: StageState, ins: Any, vertex: Any) -> None:
    path = _absolute(ins.path, state.workdir)
    state.config["WorkingDir"] = path
    key = step_key("WORKDIR", state.key, path, state.user)

    def make() -> LayerRef | None:
        with snapshot.mounted(state.layer_dirs, context.scratch) as view:
            copy.make_dirs(Path(view.root), path, owner=state.user)
            upper = view.detach_upper()
        try:
            return commit.commit(context.store, upper, _parent_chain(state))
        finally:
            shutil.rmtree(upper, ignore_errors=True)

    _reuse_or_make(context, state, key, f"WORKDIR {path}", vertex, make, f"WORKDIR {path}")


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield
