"""A stage's state as its instructions run: layers, image config, history, args, cache key.

The metadata instructions (ENV, LABEL, USER, CMD, ...) only change the config and add a
history entry, as BuildKit's Dockerfile frontend records them; the filesystem steps (RUN,
COPY, ADD, WORKDIR) also add a layer and move the stage's cache key on (see steps.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackup.engine.build.model import LayerRef
from stackup.engine.runtime.process import DEFAULT_PATH

HISTORY_COMMENT = "buildkit.dockerfile.v0"
DEFAULT_SHELL = ["/bin/sh", "-c"]


@dataclass
class StageState:
    """Where a stage has got to: what the next instruction builds on."""

    layers: list[LayerRef] = field(default_factory=list)
    layer_dirs: list[Path] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # the OCI config's "config" object
    history: list[dict[str, Any]] = field(default_factory=list)
    key: str = ""  # the cache key of the filesystem so far
    args: dict[str, str | None] = field(default_factory=dict)  # ARGs in scope (None: no value)
    created: str = ""  # the newest step time: the image's `created`, stable on a rebuild
    architecture: str = ""
    os: str = "linux"
    variant: str = ""
    onbuild: list[str] = field(default_factory=list)  # the base's triggers, run after FROM
    author: str = ""  # MAINTAINER

    def fork(self) -> StageState:
        """A copy for a stage built FROM this one (each stage has its own args)."""
        twin = copy.deepcopy(self)
        twin.args = {}
        twin.onbuild = []
        return twin

    # --- what instructions see ------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {k: v for k, _, v in (e.partition("=") for e in self.config.get("Env") or [])}

    def expansion_env(self) -> dict[str, str]:
        """Variables for expanding an instruction: ARG values, with ENV winning over ARG."""
        values = {k: v for k, v in self.args.items() if v is not None}
        values.update(self.env())
        return values

    def run_env(self, proxies: dict[str, str]) -> list[str]:
        """A RUN's environment: the image's, plus the ARGs in scope ENV does not set."""
        env = self.env()
        merged = dict(env)
        for name, value in list(self.args.items()) + list(proxies.items()):
            if value is not None and name not in env:
                merged[name] = value
        merged.setdefault("PATH", DEFAULT_PATH)
        return [f"{k}={v}" for k, v in merged.items()]

    def run_args(self) -> list[str]:
        """The `|N A=1 B=2` prefix BuildKit writes before a RUN in the history."""
        env = self.env()
        return [f"{k}={v}" for k, v in sorted(self.args.items()) if v is not None and k not in env]

    @property
    def user(self) -> str:
        return str(self.config.get("User") or "")

    @property
    def workdir(self) -> str:
        return str(self.config.get("WorkingDir") or "/")

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    # --- changes --------------------------------------------------------------------------

    def record(self, created_by: str, empty_layer: bool, created: str = "") -> None:
        entry: dict[str, Any] = {"created": created or self.created, "created_by": created_by,
                                 "comment": HISTORY_COMMENT}
        if empty_layer:
            entry["empty_layer"] = True
        self.history.append(entry)

    def add_layer(self, layer: LayerRef | None, layer_dir: Path | None, key: str, created: str) -> None:
        self.key = key
        self.created = max(self.created, created)
        if layer is not None and layer_dir is not None:
            self.layers.append(layer)
            self.layer_dirs.append(layer_dir)

    def set_env(self, pairs: list[tuple[str, str]]) -> None:
        env = self.env()
        for name, value in pairs:
            env[name] = value
        self.config["Env"] = [f"{k}={v}" for k, v in env.items()]

    def set_labels(self, pairs: list[tuple[str, str]]) -> None:
        labels = dict(self.config.get("Labels") or {})
        labels.update(pairs)
        self.config["Labels"] = labels

    def add_to_set(self, key: str, items: list[str]) -> None:
        values = dict(self.config.get(key) or {})
        for item in items:
            values[item] = {}
        self.config[key] = values


def start_config(base_config: dict[str, Any] | None) -> dict[str, Any]:
    """A stage's config from its base image's (scratch: just PATH, as BuildKit sets it)."""
    config = copy.deepcopy(base_config or {"WorkingDir": "/"})  # scratch: as BuildKit has it
    if not any(e.startswith("PATH=") for e in config.get("Env") or []):
        config["Env"] = [f"PATH={DEFAULT_PATH}", *(config.get("Env") or [])]
    config.pop("OnBuild", None)  # the base's triggers run in this stage, not in its children
    return config
