"""Running one stage: its FROM, its base image's ONBUILD triggers, then each instruction.

Each instruction is expanded (where Docker expands) with the stage's ARGs and ENV, then
either changes the config (metadata instructions, here) or runs as a filesystem step
(steps.py). Errors name the Dockerfile line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from stackup.engine.build import dockerfile, instructions, steps
from stackup.engine.build.stage import StageState
from stackup.engine.build.steps import StepContext
from stackup.errors import StackupError, UserError

BaseState = Callable[[str, StepContext, "int | None"], StageState]
FILESYSTEM = ("RUN", "COPY", "ADD", "WORKDIR")


def stage_index(stages: list[Any], name: str, before: int) -> int | None:
    """The index of the stage `name` (an AS name or a number) among the stages before `before`."""
    lowered = name.lower()
    for stage in stages[:before]:
        if stage.name == lowered:
            return int(stage.index)
    if lowered.isdigit() and int(lowered) < before:
        return int(lowered)
    return None


def stage_references(stages: list[Any], stage: Any, globals_: dict[str, str | None]) -> list[int]:
    """The earlier stages `stage` uses: its FROM, COPY/ADD --from, RUN --mount from=.

    Expanded with the global ARGs only (what is known before the stage runs), which is
    what these references use in practice; one a stage's own ARG makes is found when the
    stage runs and waits for it then."""
    known = {k: v for k, v in globals_.items() if v is not None}
    names = [instructions.expand_value(stage.from_.image, known)]
    for ins in stage.instructions:
        if getattr(ins, "from_", None):
            names.append(instructions.expand_value(ins.from_, known))
        for mount in getattr(ins, "mounts", None) or []:
            if getattr(mount, "from_", None):
                names.append(instructions.expand_value(mount.from_, known))
    found = (stage_index(stages, name, stage.index) for name in names)
    return [index for index in found if index is not None]


class StageRunner:
    def __init__(self, stage: Any, stage_count: int, globals_: dict[str, str | None],
                 context: StepContext, base_state: BaseState):
        self.stage = stage
        self.context = context
        self.globals = globals_
        self.base_state = base_state
        self.all_stages: list[Any] = context.stages
        self.stage_count = stage_count
        self.step = 0
        self.total = 1 + sum(1 for ins in stage.instructions if ins.keyword in FILESYSTEM)
        self.state = StageState()

    # --- titles -------------------------------------------------------------------------

    def title(self, text: str) -> str:
        parts = [p for p in (self.context.options.name, self._stage_label()) if p]
        prefix = " ".join(parts + [f"{self.step}/{self.total}"])
        return f"[{prefix}] {text}"

    def _stage_label(self) -> str:
        if self.stage_count == 1:
            return ""
        return self.stage.name or f"stage-{self.stage.index}"

    # --- the stage ----------------------------------------------------------------------

    def run(self) -> StageState:
        self._from()
        for trigger in getattr(self.state, "onbuild", []):
            self._onbuild_trigger(trigger)
        for ins in self.stage.instructions:
            self.context.check_cancelled()
            self._instruction(ins)
        return self.state

    def _from(self) -> None:
        known = {k: v for k, v in self.globals.items() if v is not None}
        base = instructions.expand_value(self.stage.from_.image, known)
        if not base:
            raise _at(self.stage.from_, "FROM names no image (an empty ARG?)")
        if self.stage.from_.platform:
            self.context.check_platform(instructions.expand_value(self.stage.from_.platform, known),
                                        where=_where(self.stage.from_))
        self.step = 1
        index = stage_index(self.all_stages, base, self.stage.index)
        self.state = self.base_state(base, self.context, index)
        vertex = self.context.vertices.start(self.title(f"FROM {base}"))
        vertex.done()

    def _onbuild_trigger(self, trigger: str) -> None:
        parsed = dockerfile.parse(trigger, "ONBUILD")
        for node in parsed.nodes:
            self._instruction(instructions.parse_instruction(node))

    def _instruction(self, ins: Any) -> None:
        keyword = ins.keyword
        try:
            if keyword == "ARG":
                self._arg(ins)
                return
            expanded = ins.expanded(self.state.expansion_env()) if instructions.expands(keyword) else ins
            if keyword in FILESYSTEM:
                self.step += 1
                steps.run_step(self.context, self.state, expanded, self.title(_display(ins)),
                               self.stage)
            else:
                self._metadata(expanded)
        except StackupError:
            raise
        except OSError as exc:
            raise _at(ins, exc.strerror or str(exc)) from exc

    # --- metadata instructions -----------------------------------------------------------

    def _arg(self, ins: Any) -> None:
        state = self.state
        for name, default in ins.pairs:
            self.context.used_args.add(name)
            if name in self.context.options.build_args:
                value: str | None = self.context.options.build_args[name]
            elif default is not None:
                value = instructions.expand_value(default, state.expansion_env())
            else:
                value = self.globals.get(name)
            state.args[name] = value
            state.record(f"ARG {name}" + (f"={default}" if default is not None else ""), True)

    def _metadata(self, ins: Any) -> None:
        state, config, keyword = self.state, self.state.config, ins.keyword
        if keyword == "ENV":
            state.set_env(list(ins.pairs))
            text = " ".join(f"{k}={v}" for k, v in ins.pairs)
        elif keyword == "LABEL":
            state.set_labels(list(ins.pairs))
            text = " ".join(f"{k}={v}" for k, v in ins.pairs)
        elif keyword == "USER":
            config["User"] = ins.user
            text = ins.user
        elif keyword == "EXPOSE":
            ports = [instructions.normalize_port(p) for p in ins.ports]
            state.add_to_set("ExposedPorts", ports)
            text = "map[" + " ".join(f"{p}:{{}}" for p in ports) + "]"
        elif keyword == "VOLUME":
            state.add_to_set("Volumes", list(ins.paths))
            text = "[" + " ".join(ins.paths) + "]"
        elif keyword in ("CMD", "ENTRYPOINT"):
            argv = self._command(ins)
            config["Cmd" if keyword == "CMD" else "Entrypoint"] = argv
            if keyword == "ENTRYPOINT" and not self._cmd_set_here:
                config.pop("Cmd", None)  # a new ENTRYPOINT drops the base's CMD, as Docker does
            if keyword == "CMD":
                self._cmd_set_here = True
            text = json.dumps(argv, separators=(",", ":")) if not ins.shell_form else \
                json.dumps(argv, separators=(",", ":"))
        elif keyword == "SHELL":
            config["Shell"] = list(ins.argv)
            text = "[" + " ".join(ins.argv) + "]"
        elif keyword == "STOPSIGNAL":
            config["StopSignal"] = ins.signal
            text = ins.signal
        elif keyword == "HEALTHCHECK":
            check = ins.to_docker()
            config["Healthcheck"] = check
            text = instructions.healthcheck_history(check)
        elif keyword == "ONBUILD":
            config["OnBuild"] = [*(config.get("OnBuild") or []), ins.expression]
            text = ins.expression
        elif keyword == "MAINTAINER":
            self.context.maintainer = ins.name
            text = ins.name
        else:  # the parser refuses unknown instructions; this is a bug if reached
            raise _at(ins, f"{keyword} is not an instruction the builder knows")
        state.record(f"{keyword} {text}", True)

    _cmd_set_here = False

    def _command(self, ins: Any) -> list[str]:
        if ins.shell_form:
            return [*self.state.shell, ins.command]
        return list(ins.command)


def _display(ins: Any) -> str:
    """How a step is shown in progress lines: its keyword and its text as written."""
    original = " ".join(str(ins.node.original).split())
    return original if len(original) <= 120 else original[:117] + "..."


def _where(ins: Any) -> str:
    return f"{ins.node.filename}:{ins.node.line}"


def _at(ins: Any, message: str) -> UserError:
    return UserError(f"{_where(ins)}: {ins.keyword}: {message}")
