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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackup.engine.build import dispatch, dockerfile, instructions
from stackup.engine.build.cache import BuildCache
from stackup.engine.build.model import BuildOptions, LayerRef, Progress, StepEvent, StepOutput
from stackup.engine.build.stage import StageState, start_config
from stackup.engine.build.steps import StepContext
from stackup.engine.images import platform as plat
from stackup.engine.images.reference import parse_reference
from stackup.engine.images.store import Image, ImageStore
from stackup.errors import NotFoundError, StackupError, UnsupportedError, UserError


class BuildError(StackupError):
    """A build that failed while running (a RUN that exited non-zero, a failed download)."""


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
        parsed = dockerfile.parse(source, name)
        meta_args, stages = instructions.split_stages(parsed)
        globals_ = self._meta_args(meta_args)
        target = self._target(stages)
        needed = self._needed(stages, target, globals_)
        with ExitStack() as cleanup:
            context = StepContext.open(self.options, self.store, self.cache, self.vertices, cleanup)
            results = self._build_stages(stages, needed, globals_, context)
            final = results[target.index].result()
            self._warn_unused_args(context)
            vertex = self.vertices.start("exporting to image")
            image = self._write_image(final)
            vertex.done()
            return image

    def _check_platform(self) -> None:
        if self.options.platform and plat.parse(self.options.platform) != self.host \
                and plat.parse(self.options.platform).architecture != self.host.architecture:
            raise UnsupportedError(f"platform {self.options.platform}: stackup builds only for this "
                                   f"machine's platform ({self.host})")

    def _read_dockerfile(self) -> tuple[str, str]:
        vertex = self.vertices.start("[internal] load build definition from "
                                     + (self.options.dockerfile.name if self.options.dockerfile
                                        else "Dockerfile"))
        if self.options.dockerfile_inline is not None:
            vertex.done()
            return self.options.dockerfile_inline, "Dockerfile"
        path = self.options.dockerfile or self.options.context / "Dockerfile"
        if not self.options.context.is_dir():
            raise UserError(f"build context {self.options.context}: not a folder")
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            raise UserError(f"failed to read dockerfile: {path}: no such file") from None
        except IsADirectoryError:
            raise UserError(f"failed to read dockerfile: {path} is a folder") from None
        vertex.done()
        return text, path.name

    def _meta_args(self, meta_args: list[Any]) -> dict[str, str | None]:
        """The ARGs before the first FROM, with the predefined platform args, after --build-arg."""
        values: dict[str, str | None] = dict(instructions.platform_args(self.host))
        for arg in meta_args:
            for name, default in arg.pairs:
                if name in self.options.build_args:
                    values[name] = self.options.build_args[name]
                elif default is not None:
                    values[name] = instructions.expand_value(default, _known(values))
                else:
                    values.setdefault(name, None)
        return values

    def _target(self, stages: list[Any]) -> Any:
        if not stages:
            raise UserError("Dockerfile: no FROM instruction: a Dockerfile must start a stage")
        if not self.options.target:
            return stages[-1]
        for stage in stages:
            if stage.name == self.options.target.lower():
                return stage
        names = ", ".join(s.name for s in stages if s.name) or "none"
        raise UserError(f"target stage {self.options.target!r} could not be found (stages: {names})")

    def _needed(self, stages: list[Any], target: Any, globals_: dict[str, str | None]) -> list[int]:
        """The indexes of the stages the target needs, itself included, in file order."""
        needed: set[int] = set()
        pending = [target.index]
        while pending:
            index = pending.pop()
            if index in needed:
                continue
            needed.add(index)
            pending += dispatch.stage_references(stages, stages[index], globals_)
        return sorted(needed)

    def _build_stages(self, stages: list[Any], needed: list[int], globals_: dict[str, str | None],
                      context: StepContext) -> dict[int, Future[StageState]]:
        results: dict[int, Future[StageState]] = {}
        pool = ThreadPoolExecutor(max_workers=max(1, len(needed)), thread_name_prefix="stage")
        context.stage_result = lambda index: results[index].result()
        try:
            for index in needed:  # in file order: a stage only refers to earlier ones
                results[index] = pool.submit(self._stage, stages, stages[index], globals_, context)
            for index in needed:
                results[index].exception()  # wait for all, so none runs on after a failure
        finally:
            context.cancelled.set()
            pool.shutdown(wait=True)
        for index in needed:
            if results[index].exception() is not None:
                results[index].result()  # re-raise the first failure, in stage order
        return results

    def _stage(self, stages: list[Any], stage: Any, globals_: dict[str, str | None],
               context: StepContext) -> StageState:
        runner = dispatch.StageRunner(stage, len(stages), globals_, context, self._base_state)
        return runner.run()

    # --- bases --------------------------------------------------------------------------

    def _base_state(self, name: str, context: StepContext, stage_index: int | None) -> StageState:
        """A stage's starting state: an earlier stage's result, scratch, or an image."""
        if stage_index is not None:
            return context.stage_result(stage_index).fork()
        if name == "scratch":
            return StageState(config=start_config(None), architecture=self.host.architecture,
                              os=self.host.os, variant=self.host.variant)
        image = self._base_image(name, context)
        document = self.store.config_document(image)
        manifest = self.store.manifest(image)
        layers = [LayerRef(diff_id, desc["digest"], int(desc["size"]), desc["mediaType"], chain)
                  for desc, diff_id, chain in zip(manifest["layers"], image.diff_ids, image.chain_ids)]
        state = StageState(layers=layers, layer_dirs=image.layer_dirs(),
                           config=start_config(document.get("config")),
                           history=list(document.get("history") or []), key=image.id,
                           created=str(document.get("created") or ""),
                           architecture=image.architecture, os=image.os,
                           variant=str(document.get("variant") or ""))
        state.onbuild = list((document.get("config") or {}).get("OnBuild") or [])  # type: ignore[attr-defined]
        return state

    def _base_image(self, name: str, context: StepContext) -> Image:
        ref = parse_reference(name).normalized()
        vertex = self.vertices.start(f"[internal] load metadata for {ref}")
        try:
            if self.options.pull or not self.store.exists(ref):
                with context.pull_lock:
                    if self.options.pull or not self.store.exists(ref):
                        from stackup.engine.images.pull import pull

                        try:
                            pull(self.store, ref)
                        except StackupError as exc:
                            if self.options.pull and self.store.exists(ref):
                                raise
                            raise NotFoundError(f"base image {name}: not found here and could not "
                                                f"be pulled: {exc}") from None
            image = self.store.resolve(ref)
        except StackupError as exc:
            vertex.failed(str(exc))
            raise
        vertex.done()
        return image

    # --- the image ----------------------------------------------------------------------

    def _write_image(self, final: StageState) -> Image:
        config = dict(final.config)
        if self.options.labels:
            config["Labels"] = {**(config.get("Labels") or {}), **self.options.labels}
        document: dict[str, Any] = {
            "architecture": final.architecture or self.host.architecture,
            "os": final.os or "linux",
            "created": final.created or _epoch_zero(),
            "config": {k: v for k, v in config.items() if v not in (None, [], {}, "")
                       or k in ("Cmd", "Entrypoint") and v == []},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in final.layers]},
            "history": final.history,
        }
        if final.variant:
            document["variant"] = final.variant
        blobs = [(layer.blob, layer.size, layer.media_type) for layer in final.layers]
        with self.store.adding():
            return self.store.write_image(document, blobs, list(self.options.tags))

    def _warn_unused_args(self, context: StepContext) -> None:
        unused = sorted(set(self.options.build_args) - context.used_args
                        - set(instructions.PROXY_ARGS))
        if unused:
            from stackup.engine import notices

            notices.warn(f"build-args {', '.join(unused)} were not consumed by any ARG")


def _known(values: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def _epoch_zero() -> str:
    return "1970-01-01T00:00:00Z"


Emit = Callable[[str], None]
