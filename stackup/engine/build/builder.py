"""The orchestrator: a Dockerfile and its context in, an image in the store out.

Only the stages the target needs are built, each in a thread of its own so independent
stages run side by side; a stage that needs another (FROM it, COPY --from it, mount from it)
waits for it. Each stage runs its instructions in order: metadata ones change the config,
filesystem ones (steps.py) reuse a cached layer or make one. The image is written last:
its config, history and `created` come only from the steps' records, so a rebuild where
nothing changed gives the same image id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from stackup.engine.build import dispatch, dockerfile, instructions
from stackup.engine.build.cache import BuildCache
from stackup.engine.build.instructions import Stage
from stackup.engine.build.model import BuildOptions, LayerRef, Progress, StepEvent, StepOutput
from stackup.engine.build.stage import StageState, start_config
from stackup.engine.build.steps import Cancelled, StepContext
from stackup.engine.images import platform as plat
from stackup.engine.images.reference import parse_reference
from stackup.engine.images.store import Image, ImageStore
from stackup.errors import NotFoundError, StackupError, UnsupportedError, UserError


@dataclass
class Vertices:
    """BuildKit-style numbered progress vertices (#1, #2, ...), shared by the stages' threads."""

    emit: Progress
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, title: str) -> Vertex:
        with self.lock:
            self.count += 1
            number = self.count
        vertex = Vertex(self, number, title, time.monotonic())
        self.emit(StepEvent(number, title, "started"))
        return vertex


@dataclass
class Vertex:
    owner: Vertices
    number: int
    title: str
    started: float

    def output(self, text: str) -> None:
        self.owner.emit(StepOutput(self.number, text, time.monotonic() - self.started))

    def cached(self) -> None:
        self.owner.emit(StepEvent(self.number, self.title, "cached"))

    def done(self) -> None:
        self.owner.emit(StepEvent(self.number, self.title, "done", time.monotonic() - self.started))

    def failed(self, error: str) -> None:
        self.owner.emit(StepEvent(self.number, self.title, "error",
                                  time.monotonic() - self.started, error))


class Builder:
    def __init__(self, options: BuildOptions, progress: Progress | None = None,
                 store: ImageStore | None = None):
        self.options = options
        self.store = store or ImageStore()
        self.cache = BuildCache(self.store)
        self.vertices = Vertices(progress or (lambda event: None))
        self.host = plat.host()

    # --- the whole build ----------------------------------------------------------------

    def run(self) -> Image:
        self._check_platform()
        source, name = self._read_dockerfile()
        meta_args, stages = instructions.split_stages(dockerfile.parse(source, name))
        meta = instructions.meta_arg_values(meta_args, self.options.build_args)
        target = self._target(stages)
        needed = self._needed(stages, target, meta)
        with ExitStack() as cleanup:
            # held shared all along: a gc never takes a layer between its commit and its pin
            cleanup.enter_context(self.store.adding())
            context = StepContext.open(self.options, self.store, self.cache, self.vertices, cleanup)
            context.stages = stages
            context.pull_base = lambda ref: self._base_image(ref, context)
            context.used_args.update(a for arg in meta_args for a, _ in arg.args)
            results = self._build_stages(stages, needed, meta, context)
            final = results[target.index].result()
            self._warn_unused_args(context)
            vertex = self.vertices.start("exporting to image")
            image = self._write_image(final)
            vertex.done()
            return image

    def _check_platform(self) -> None:
        if not self.options.platform:
            return
        wanted = plat.parse(self.options.platform)
        if (wanted.os, wanted.architecture) != (self.host.os, self.host.architecture):
            raise UnsupportedError(f"platform {self.options.platform}: stackup builds only for this "
                                   f"machine's platform ({self.host})")

    def _read_dockerfile(self) -> tuple[str, str]:
        options = self.options
        if not options.context.is_dir():
            raise UserError(f"build context {options.context}: not a folder")
        if options.dockerfile_inline is not None:
            return options.dockerfile_inline, "Dockerfile"
        path = options.dockerfile or options.context / "Dockerfile"
        vertex = self.vertices.start(f"[internal] load build definition from {path.name}")
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            raise UserError(f"failed to read dockerfile: {path}: no such file") from None
        except IsADirectoryError:
            raise UserError(f"failed to read dockerfile: {path} is a folder") from None
        vertex.done()
        return text, path.name

    def _target(self, stages: list[Stage]) -> Stage:
        if not self.options.target:
            return stages[-1]
        for stage in stages:
            if stage.name == self.options.target.lower():
                return stage
        names = ", ".join(s.name for s in stages if s.name) or "none"
        raise UserError(f"target stage {self.options.target!r} could not be found (stages: {names})")

    def _needed(self, stages: list[Stage], target: Stage, meta: Mapping[str, str]) -> list[int]:
        """The indexes of the stages the target needs, itself included, in file order."""
        needed: set[int] = set()
        pending = [target.index]
        while pending:
            index = pending.pop()
            if index not in needed:
                needed.add(index)
                pending += dispatch.stage_references(stages, stages[index], meta)
        return sorted(needed)

    def _build_stages(self, stages: list[Stage], needed: list[int], meta: Mapping[str, str],
                      context: StepContext) -> dict[int, Future[StageState]]:
        results: dict[int, Future[StageState]] = {}
        context.stage_result = lambda index: results[index].result()
        pool = ThreadPoolExecutor(max_workers=len(needed), thread_name_prefix="stage")
        try:
            for index in needed:  # in file order: a stage refers only to earlier ones
                runner = dispatch.StageRunner(stages[index], stages, meta, context, self._base_state)
                results[index] = pool.submit(runner.run)
                results[index].add_done_callback(
                    lambda done: context.cancelled.set() if done.exception() else None)
        finally:
            pool.shutdown(wait=True)
        failures = [results[i].exception() for i in needed if results[i].exception()]
        real = [f for f in failures if not isinstance(f, Cancelled)]
        if failures:
            raise (real or failures)[0]  # type: ignore[misc]
        return results

    # --- bases --------------------------------------------------------------------------

    def _base_state(self, name: str, context: StepContext, stage_index: int | None) -> StageState:
        """A stage's starting state: an earlier stage's result, scratch, or an image."""
        if stage_index is not None:  # the stage's ONBUILD triggers run here, as an image's would
            state = context.stage_result(stage_index).fork()
            state.onbuild = list(state.config.pop("OnBuild", None) or [])
            return state
        named = self.options.additional_contexts.get(name, "")
        if named.startswith("docker-image://"):  # FROM a named context (compose: service:NAME)
            name = named[len("docker-image://"):]
        elif named:
            raise UserError(f"FROM {name}: the named context {name!r} is a folder, not an image")
        if name == "scratch":
            return StageState(config=start_config(None), architecture=self.host.architecture,
                              os=self.host.os, variant=self.host.variant)
        image = self._base_image(name, context)
        document = self.store.config_document(image)
        manifest = self.store.manifest(image)
        layers = [LayerRef(diff_id, desc["digest"], int(desc["size"]), desc["mediaType"], chain)
                  for desc, diff_id, chain in zip(manifest["layers"], image.diff_ids, image.chain_ids)]
        return StageState(layers=layers, layer_dirs=image.layer_dirs(),
                          config=start_config(document.get("config")),
                          history=list(document.get("history") or []), key=image.id,
                          created=str(document.get("created") or ""),
                          architecture=image.architecture, os=image.os,
                          variant=str(document.get("variant") or ""),
                          onbuild=list((document.get("config") or {}).get("OnBuild") or []))

    def _base_image(self, name: str, context: StepContext) -> Image:
        """A base image from the store; pulled first with --pull or when it is not here."""
        if name.startswith("sha256:"):  # an image id (compose's service:NAME context) is never pulled
            return self.store.resolve(name)
        try:
            ref = parse_reference(name).normalized()
        except StackupError as exc:
            raise UserError(f"base image {name!r}: {exc}") from None
        with context.pull_lock:  # one pull of a name at a time, even for stages in parallel
            if self.options.pull or not self.store.exists(ref):
                if (ref not in context.pulled) or not self.store.exists(ref):
                    self._pull(name, ref)
                    context.pulled.add(ref)
            return self.store.resolve(ref)

    def _pull(self, name: str, ref: str) -> None:
        from stackup.engine.images.pull import pull

        vertex = self.vertices.start(f"[internal] load metadata for {ref}")
        try:
            pull(self.store, ref)
        except StackupError as exc:
            vertex.failed(str(exc))
            if self.store.exists(ref):
                raise
            raise NotFoundError(f"base image {name}: not in the image store and not pulled: "
                                f"{exc}") from None
        vertex.done()

    # --- the image ----------------------------------------------------------------------

    def _write_image(self, final: StageState) -> Image:
        config = dict(final.config)
        if self.options.labels:
            config["Labels"] = {**(config.get("Labels") or {}), **self.options.labels}
        document: dict[str, Any] = {
            "architecture": final.architecture or self.host.architecture,
            "os": final.os or "linux",
            "created": final.created or EPOCH,
            "config": {k: v for k, v in config.items() if v not in (None, {}, "")},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in final.layers]},
            "history": final.history,
        }
        if final.author:
            document["author"] = final.author
        if final.variant:
            document["variant"] = final.variant
        blobs = [(layer.blob, layer.size, layer.media_type) for layer in final.layers]
        return self.store.write_image(document, blobs, list(self.options.tags))

    def _warn_unused_args(self, context: StepContext) -> None:
        unused = sorted(set(self.options.build_args) - context.used_args - instructions.PROXY_ARGS)
        if unused:
            from stackup.engine import notices

            notices.warn(f"build-args {', '.join(unused)} were not consumed by any ARG")


EPOCH = "1970-01-01T00:00:00Z"
