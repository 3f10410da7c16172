"""The filesystem steps (RUN, COPY, ADD, WORKDIR): found in the cache by key, or run.

A step's key is its parent's key plus everything its result depends on: the instruction
after expansion, the env/args/user/workdir/shell it runs with, its mounts, and for what it
copies from the context the content (modes, owners, bytes; never mtimes). A hit reuses the
recorded layer; a miss runs the step on a snapshot of the stage (a RUN in a container of
stackup's runtime, a COPY on an overlay mount) and commits what changed as a layer.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackup.engine import state as st
from stackup.engine.build import commit, copy, dockerignore, runstep, snapshot
from stackup.engine.build import context as ctxmod
from stackup.engine.build.cache import BuildCache, step_key
from stackup.engine.build.instructions import (PIPES_DIR, Add, Copy, Instruction, MountSpec, Run,
                                               Workdir, proxy_args)
from stackup.engine.build.model import BuildOptions, LayerRef, RunMount, RunStep
from stackup.engine.build.stage import StageState
from stackup.engine.images.store import Image, ImageStore, now_rfc3339
from stackup.engine.runtime.securejoin import resolve_in_root
from stackup.errors import StackupError, UnsupportedError, UserError


class Cancelled(StackupError):
    """Another stage of the build failed: this one stops at its next step."""


class StepFailed(StackupError):
    """A RUN that exited non-zero: names the Dockerfile line, the command and its exit code."""

    def __init__(self, message: str, tail: list[str]):
        super().__init__(message)
        self.tail = tail


@dataclass
class StepContext:
    """What the steps of one build share (the stages' threads read it; writes are locked)."""

    options: BuildOptions
    store: ImageStore
    cache: BuildCache
    vertices: Any
    cleanup: ExitStack
    scratch: Path  # the build's own scratch folder (locked; removed at the end)
    stages: list[Any] = field(default_factory=list)
    used_args: set[str] = field(default_factory=set)
    cancelled: threading.Event = field(default_factory=threading.Event)
    pull_lock: threading.Lock = field(default_factory=threading.Lock)
    pulled: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stage_result: Callable[[int], StageState] = field(default=lambda index: StageState())
    pull_base: Callable[[str], Image] | None = None
    _network: runstep.BuildNetwork | None = None
    _matcher: dockerignore.Matcher | None = None
    _hasher: ctxmod.ContentHasher | None = None

    @classmethod
    def open(cls, options: BuildOptions, store: ImageStore, cache: BuildCache, vertices: Any,
             cleanup: ExitStack) -> StepContext:
        # what killed builds left: their step containers and networks first (a step's shim
        # may still hold its build's scratch folder), then their mounts and folders
        runstep.sweep()
        snapshot.sweep()
        scratch = cleanup.enter_context(snapshot.scratch_dir())
        return cls(options, store, cache, vertices, cleanup, scratch)

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled("build cancelled: another stage failed")

    # --- shared, made on first use --------------------------------------------------------

    def matcher(self) -> dockerignore.Matcher:
        with self.lock:
            if self._matcher is None:
                dockerfile = self.options.dockerfile or self.options.context / "Dockerfile"
                self._matcher = dockerignore.read_ignore(self.options.context, dockerfile)
            return self._matcher

    def hasher(self) -> ctxmod.ContentHasher:
        with self.lock:
            if self._hasher is None:
                st.ensure_dir(self.cache.base, 0o700)
                self._hasher = self.cleanup.enter_context(
                    ctxmod.ContentHasher(self.cache.base / "statcache.db"))
            return self._hasher

    def network(self) -> runstep.BuildNetwork:
        """The build's NAT network (made by its first RUN that needs it, removed at the end)."""
        with self.lock:
            if self._network is None:
                self._network = self.cleanup.enter_context(runstep.BuildNetwork())
            return self._network

    def check_platform(self, text: str, where: str) -> None:
        """FROM --platform: the machine's own platform only (no emulation)."""
        from stackup.engine.images import platform as plat

        wanted, host = plat.parse(text), plat.host()
        if (wanted.os, wanted.architecture) != (host.os, host.architecture):
            raise UnsupportedError(f"{where}: FROM --platform={text}: stackup builds only for this "
                                   f"machine's platform ({host})")

    def private_dir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.scratch))


def run_step(context: StepContext, state: StageState, ins: Instruction, title: str) -> None:
    vertex = context.vertices.start(title)
    try:
        if isinstance(ins, Run):
            _run(context, state, ins, vertex)
        elif isinstance(ins, (Copy, Add)):
            _copy(context, state, ins, vertex)
        elif isinstance(ins, Workdir):
            _workdir(context, state, ins, vertex)
        else:  # dispatch sends only these here
            raise TypeError(ins.keyword)
    except StackupError as exc:
        vertex.failed(str(exc))
        raise
    except BaseException as exc:
        vertex.failed(type(exc).__name__)
        raise


def _reuse_or_make(context: StepContext, state: StageState, key: str, description: str,
                   vertex: Any, make: Callable[[], LayerRef | None], history: str) -> None:
    """The layer recorded for `key`, or the one `make` makes (then recorded)."""
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


def _in_view(context: StepContext, state: StageState, change: Callable[[Path], None]) -> LayerRef | None:
    """Mount the stage writable, let `change` write into its root, commit what changed."""
    with snapshot.scratch_dir() as scratch:
        with snapshot.mounted(state.layer_dirs, scratch) as view:
            change(view.root)
        assert view.upper is not None
        return commit.commit(context.store, view.upper, _parent_chain(state))


# --- RUN -------------------------------------------------------------------------------

def _run(context: StepContext, state: StageState, ins: Run, vertex: Any) -> None:
    script = ins.script(state.shell)
    argv = script.argv
    network = ins.network if ins.network != "default" else (context.options.network or "default")
    if network not in ("default", "none", "host"):
        raise ins.error(f"--network={network}: expected default, none or host")
    proxies = proxy_args(context.options.build_args)
    context.used_args.update(proxies)
    keyed_env = state.run_env({})
    env = state.run_env(proxies)
    shown = " ".join(argv)
    run_args = state.run_args()
    history = (f"RUN |{len(run_args)} {' '.join(run_args)} {shown} # buildkit" if run_args
               else f"RUN {shown} # buildkit")
    with ExitStack() as scope:
        mounts, keyed_mounts, secret_env = _mounts(context, state, ins, scope)
        if script.pipe is not None:  # a heredoc with a shebang runs as a file, as BuildKit does
            folder = context.private_dir("pipe-")
            path = folder / script.pipe.name
            path.write_text(script.pipe.data)
            path.chmod(0o755)
            mounts.append(RunMount("bind", posixpath.join(PIPES_DIR, script.pipe.name), str(path),
                                   read_only=True))
            keyed_mounts.append(["pipe", script.pipe.name, script.pipe.data])
        key = step_key("RUN", state.key, argv, keyed_env, state.user, state.workdir, network,
                       keyed_mounts, context.options.extra_hosts)

        def make() -> LayerRef | None:
            step = RunStep(layers=list(state.layer_dirs), argv=argv, env=env + secret_env,
                           user=state.user, workdir=state.workdir, mounts=mounts, network=network,
                           extra_hosts=list(context.options.extra_hosts),
                           shm_size=context.options.shm_size, label=vertex.title)
            with snapshot.scratch_dir() as scratch:
                result = runstep.run_step(step, vertex.output, into=scratch, network=(
                    context.network() if network == "default" else None))
                if result.exit_code != 0:
                    shutil.rmtree(result.upper, ignore_errors=True)
                    tail = " | ".join(line.strip() for line in result.tail[-5:] if line.strip())
                    raise StepFailed(
                        f"{ins.filename}:{ins.line}: RUN failed: process \"{shown}\" did not "
                        f"complete successfully: exit code: {result.exit_code}"
                        + (f"; last output: {tail}" if tail else ""), result.tail)
                return commit.commit(context.store, result.upper, _parent_chain(state))

        _reuse_or_make(context, state, key, f"RUN {shown}", vertex, make, history)


def _mounts(context: StepContext, state: StageState, ins: Run,
            scope: ExitStack) -> tuple[list[RunMount], list[Any], list[str]]:
    """The RUN's --mount flags as runtime mounts, what of them goes into the key, and the
    env a secret mount with env= adds (never keyed)."""
    mounts: list[RunMount] = []
    keyed: list[Any] = []
    secret_env: list[str] = []
    for spec in ins.mounts:
        target = posixpath.normpath(posixpath.join(state.workdir, spec.target)) if spec.target else ""
        if spec.type == "cache":
            mounts.append(_cache_mount(context, spec, target, scope))
            keyed.append(["cache", target, spec.id])  # its content never enters the key
        elif spec.type == "tmpfs":
            mounts.append(RunMount("tmpfs", target, size=spec.size))
            keyed.append(["tmpfs", target, spec.size])
        elif spec.type == "bind":
            source, digest = _bind_source(context, spec, scope)
            if not spec.readonly:
                source = _writable_copy(context, source)
            mounts.append(RunMount("bind", target, str(source), read_only=spec.readonly))
            keyed.append(["bind", target, spec.source, spec.from_, digest, spec.readonly])
        elif spec.type == "secret":
            secret = _secret(context, ins, spec, target)
            if isinstance(secret, str):
                secret_env.append(secret)
            elif secret is not None:
                mounts.append(secret)
            keyed.append(["secret", spec.id, target, spec.env or ""])  # never its content
        else:
            raise ins.error(f"--mount=type={spec.type} is not supported by stackup")
    return mounts, keyed, secret_env


def _cache_mount(context: StepContext, spec: MountSpec, target: str, scope: ExitStack) -> RunMount:
    mode = spec.mode if spec.mode is not None else 0o755
    uid, gid = spec.uid or 0, spec.gid or 0
    # BuildKit shares a cache between mounts of the same id with the same owner and mode
    folder = context.cache.mount_dir(f"{spec.id or target} mode={mode:o} uid={uid} gid={gid}")
    lock = folder.with_name(folder.name + ".lock")
    if spec.sharing == "locked":
        scope.enter_context(st.locked(lock))
    elif spec.sharing == "private" and not scope.enter_context(st.try_locked(lock)):
        folder = context.private_dir("cache-")  # in use by another step: a fresh one of its own
    elif spec.sharing not in ("", "shared", "private"):
        raise UserError(f"--mount=type=cache,sharing={spec.sharing}: expected shared, private or locked")
    if not any(folder.iterdir()):  # first use: its owner, its mode, its seed
        os.chown(folder, uid, gid)
        os.chmod(folder, mode)
        if spec.from_:
            source, _ = _bind_source(context, spec, scope)
            shutil.copytree(source, folder, symlinks=True, dirs_exist_ok=True)
    return RunMount("bind", target, str(folder))


def _writable_copy(context: StepContext, source: Path) -> Path:
    """A bind mount with rw: the step may write, but its writes are thrown away, never
    reaching the context (or a stage): it gets a copy."""
    copied = context.private_dir("bind-rw-") / "copy"
    if source.is_dir():
        shutil.copytree(source, copied, symlinks=True)
    else:
        shutil.copy2(source, copied)
    return copied


def _bind_source(context: StepContext, spec: MountSpec, scope: ExitStack) -> tuple[Path, str]:
    """The host path a bind mount (or a cache's seed) comes from, and a digest of its content."""
    rel = spec.source.lstrip("/") or "."
    if spec.from_:
        root, key = other_root(context, spec.from_, scope)
        path = Path(resolve_in_root(str(root), "/" + rel))
        if not os.path.lexists(path):
            raise UserError(f"RUN --mount from={spec.from_}: {spec.source or '/'} not found")
        return path, key
    root, matcher = context.options.context, context.matcher()
    sources = ctxmod.resolve_sources(root, [rel], matcher, instruction="RUN --mount")
    return Path(resolve_in_root(str(root), "/" + rel)), context.hasher().digest(root, sources, matcher)


def other_root(context: StepContext, name: str, scope: ExitStack) -> tuple[Path, str]:
    """A read-only view of what `--from` names: a named additional context (a folder, or an
    image), an earlier stage, or an image; and a key of its content."""
    from stackup.engine.build.dispatch import stage_index

    where = context.options.additional_contexts.get(name)
    if where is not None and not where.startswith("docker-image://"):
        folder = Path(where)
        sources = ctxmod.resolve_sources(folder, ["."], None)
        return folder, context.hasher().digest(folder, sources, None)
    index = None if where is not None else stage_index(context.stages, name, len(context.stages))
    if index is not None:
        other = context.stage_result(index)
        layers, key = other.layer_dirs, other.key
    else:
        assert context.pull_base is not None
        image = context.pull_base(where[len("docker-image://"):] if where else name)
        layers, key = image.layer_dirs(), image.id
    scratch = scope.enter_context(snapshot.scratch_dir())
    view = scope.enter_context(snapshot.mounted(layers, scratch, writable=False))
    return view.root, key


def _secret(context: StepContext, ins: Run, spec: MountSpec, target: str) -> RunMount | str | None:
    source = context.options.secrets.get(spec.id)
    if source is None:
        if spec.required:
            raise ins.error(f"--mount=type=secret,id={spec.id}: the secret was not given "
                            "(stackup image build --secret id=...,src=...; compose build.secrets)")
        return None
    if spec.env:
        return f"{spec.env}={Path(source).read_text()}"
    copied = context.private_dir("secret-") / "secret"
    shutil.copyfile(source, copied)
    os.chmod(copied, spec.mode if spec.mode is not None else 0o400)
    os.chown(copied, spec.uid or 0, spec.gid or 0)
    return RunMount("bind", target or f"/run/secrets/{spec.id}", str(copied), read_only=True)


# --- COPY and ADD --------------------------------------------------------------------------

def _copy(context: StepContext, state: StageState, ins: Copy | Add, vertex: Any) -> None:
    where = f"{ins.filename}:{ins.line}"
    text = " ".join([*ins.sources, *(f"<<{h.name}" for h in ins.heredocs), ins.dest])
    history = f"{ins.keyword} {text} # buildkit"
    with ExitStack() as scope:
        from_ = ins.from_ if isinstance(ins, Copy) else ""
        urls = [s for s in ins.sources if isinstance(ins, Add) and s.startswith(("http://", "https://"))]
        local = [s for s in ins.sources if s not in urls]
        matcher: dockerignore.Matcher | None
        if from_:
            root, origin = other_root(context, from_, scope)
            matcher = None
        else:
            root, matcher, origin = context.options.context, context.matcher(), ""
        sources = ctxmod.resolve_sources(root, local, matcher, instruction=ins.keyword,
                                         where=where) if local else []
        exclude = dockerignore.Matcher(ins.exclude, origin=where) if ins.exclude else None
        # what is copied: a stage's or image's key stands for its content; the context's is hashed
        content = origin or (context.hasher().digest(root, sources, matcher, exclude) if sources else "")
        downloads = context.private_dir("download-") if urls else None
        if downloads is not None:
            files = [copy.download(url, downloads, checksum=getattr(ins, "checksum", "") or None)
                     for url in urls]
            got = ctxmod.resolve_sources(downloads, [f.name for f in files], None)
            content += context.hasher().digest(downloads, got, None)
        heredocs = {h.name: h.data for h in ins.heredocs}
        key = step_key(ins.keyword, state.key, _identity(ins), state.workdir, content,
                       sorted(heredocs.items()))

        def change(dest_root: Path) -> None:
            common: dict[str, Any] = dict(workdir=state.workdir, chown=ins.chown or None,
                                          chmod=ins.chmod or None, what=ins.keyword)
            if heredocs:
                folder = context.private_dir("heredoc-")
                for name, data in heredocs.items():
                    (folder / name).write_text(data)
                copy.copy_in(folder, [(name, False) for name in heredocs], dest_root, ins.dest,
                             **common)
            if sources:
                copy.copy_in(root, [(s.path, s.is_dir) for s in sources], dest_root, ins.dest,
                             parents=bool(getattr(ins, "parents", False)),
                             excluded=_excluded(matcher, exclude), keep_owners=bool(from_),
                             unpack_archives=isinstance(ins, Add) and ins.unpack is not False,
                             **common)
            if downloads is not None:
                copy.copy_in(downloads, [(p.name, False) for p in sorted(downloads.iterdir())],
                             dest_root, ins.dest, unpack_archives=bool(getattr(ins, "unpack", False)),
                             **common)

        _reuse_or_make(context, state, key, history.removesuffix(" # buildkit"), vertex,
                       lambda: _in_view(context, state, change), history)


def _excluded(matcher: dockerignore.Matcher | None,
              exclude: dockerignore.Matcher | None) -> Callable[[str, str], bool] | None:
    """What a folder's copy leaves out: what .dockerignore excludes (context-relative)
    and what --exclude names (relative to the source, as fsutil matches it)."""
    if not matcher and exclude is None:
        return None

    def excluded(source: str, below: str) -> bool:
        path = posixpath.normpath(posixpath.join(source, below))
        # an excluded folder an exception may bring something back from is still walked
        if matcher and matcher.excludes(path) and not matcher.may_include_below(path):
            return True
        return exclude is not None and exclude.excludes(below) and not exclude.may_include_below(below)
    return excluded


def _identity(ins: Copy | Add) -> list[Any]:
    return [list(ins.sources), ins.dest, getattr(ins, "from_", ""), ins.chown, ins.chmod,
            ins.link, getattr(ins, "parents", False), list(ins.exclude),
            getattr(ins, "checksum", ""), getattr(ins, "unpack", None)]


# --- WORKDIR ---------------------------------------------------------------------------------

def _workdir(context: StepContext, state: StageState, ins: Workdir, vertex: Any) -> None:
    path = posixpath.normpath(posixpath.join(state.workdir, ins.path))
    state.config["WorkingDir"] = path
    key = step_key("WORKDIR", state.key, path, state.user)

    def change(root: Path) -> None:
        owner = copy.resolve_owner(root, state.user) if state.user else (0, 0)
        made = Path(resolve_in_root(str(root), path))
        missing = []
        while not os.path.lexists(made) and made != root:
            missing.append(made)
            made = made.parent
        for folder in reversed(missing):
            folder.mkdir(mode=0o755)
            os.chown(folder, *owner)

    _reuse_or_make(context, state, key, f"WORKDIR {path}", vertex,
                   lambda: _in_view(context, state, change), f"WORKDIR {path}")


def check_supported(ins: Instruction) -> None:
    if isinstance(ins, Run) and ins.security not in ("", "sandbox"):
        raise UnsupportedError(f"{ins.filename}:{ins.line}: RUN --security={ins.security} is not "
                               "supported by stackup")
