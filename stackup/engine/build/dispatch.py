"""Running one stage: its FROM, its base image's ONBUILD triggers, then each instruction.

Each instruction is expanded (where Docker expands) with the stage's ARGs and ENV, then
either changes the config (metadata instructions, here) or runs as a filesystem step
(steps.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from stackup.engine.build import instructions as ins_
from stackup.engine.build import steps
from stackup.engine.build.instructions import (Add, Arg, Cmd, Copy, Entrypoint, Env, Expose,
                                               Healthcheck, Instruction, Label, Maintainer, Onbuild,
                                               Run, Shell, Stage, StopSignal, User, Volume, Workdir)
from stackup.engine.build.stage import StageState
from stackup.engine.build.steps import StepContext

BaseState = Callable[[str, StepContext, "int | None"], StageState]
FILESYSTEM = (Run, Copy, Add, Workdir)


def stage_index(stages: list[Stage], name: str, before: int) -> int | None:
    """The index of the stage `name` (an AS name or a number) among the stages before `before`."""
    lowered = name.lower()
    for stage in stages[:before]:
        if stage.name == lowered:
            return stage.index
    if lowered.isdigit() and int(lowered) < before:
        return int(lowered)
    return None


def stage_references(stages: list[Stage], stage: Stage, meta: Mapping[str, str]) -> list[int]:
    """The earlier stages `stage` uses: its FROM, COPY --from, RUN --mount from=.

    Found before the stage runs, so without its own ARGs: --from is not expanded by
    Docker anyway, and a mount's from= with a stage ARG is rare (it waits for the stage
    it names when it runs: every needed stage has been started by then)."""
    names = [stage.from_.expanded(meta).image]
    for ins in stage.instructions:
        if isinstance(ins, Copy) and ins.from_:
            names.append(ins.from_)
        if isinstance(ins, Run):
            names += [m.from_ for m in _mounts_known(ins, meta) if m.from_]
    found = (stage_index(stages, name, stage.index) for name in names)
    return [index for index in found if index is not None]


def _mounts_known(ins: Run, meta: Mapping[str, str]) -> list[ins_.MountSpec]:
    try:
        return ins.expanded(meta).mounts
    except Exception:  # an ARG of the stage's own: checked when the stage runs
        return []


class StageRunner:
    def __init__(self, stage: Stage, stages: list[Stage], meta: Mapping[str, str],
                 context: StepContext, base_state: BaseState):
        self.stage = stage
        self.stages = stages
        self.meta = meta
        self.context = context
        self.base_state = base_state
        self.step = 0
        self.total = 1 + sum(isinstance(i, FILESYSTEM) for i in stage.instructions)
        self.state = StageState()
        self.cmd_set = False  # an ENTRYPOINT drops the CMD unless this stage set one

    def title(self, text: str) -> str:
        label = (self.stage.name or f"stage-{self.stage.index}") if len(self.stages) > 1 else ""
        parts = [p for p in (self.context.options.name, label) if p]
        return "[" + " ".join([*parts, f"{self.step}/{self.total}"]) + f"] {text}"

    def run(self) -> StageState:
        self._from()
        for trigger in self.state.onbuild:
            self._instruction(ins_.parse_trigger(trigger, filename=self.stage.from_.filename))
        for ins in self.stage.instructions:
            self.context.check_cancelled()
            self._instruction(ins)
        return self.state

    def _from(self) -> None:
        from_ = self.stage.from_.expanded(self.meta)
        if from_.platform:
            self.context.check_platform(from_.platform, f"{from_.filename}:{from_.line}")
        self.step = 1
        index = stage_index(self.stages, from_.image, self.stage.index)
        self.state = self.base_state(from_.image, self.context, index)
        self.context.vertices.start(self.title(f"FROM {from_.image}")).done()

    def _instruction(self, ins: Instruction) -> None:
        steps.check_supported(ins)
        if isinstance(ins, Arg):
            self._arg(ins)
            return
        expanded = ins.expanded(self.state.expansion_env())
        if isinstance(expanded, FILESYSTEM):
            self.step += 1
            steps.run_step(self.context, self.state, expanded, self.title(_display(ins)))
        else:
            self.state.record(self._metadata(expanded), True)

    def _arg(self, ins: Arg) -> None:
        values = ins_.stage_arg_values(ins, self.state.expansion_env(),
                                       self.context.options.build_args, self.meta)
        for name, value in values:
            self.context.used_args.add(name)
            self.state.args[name] = value
        self.state.record("ARG " + " ".join(
            name + (f"={default}" if default is not None else "") for name, default in ins.args), True)

    def _metadata(self, ins: Instruction) -> str:
        """Apply a metadata instruction to the config; its history text (as BuildKit's)."""
        state, config = self.state, self.state.config
        if isinstance(ins, Env):
            state.set_env(ins.pairs)
            return "ENV " + " ".join(f"{k}={v}" for k, v in ins.pairs)
        if isinstance(ins, Label):
            state.set_labels(ins.pairs)
            return "LABEL " + " ".join(f"{k}={v}" for k, v in ins.pairs)
        if isinstance(ins, User):
            config["User"] = ins.user
            return f"USER {ins.user}"
        if isinstance(ins, Expose):
            try:
                ports = ins_.exposed_ports(ins.ports)
            except ValueError as exc:
                raise ins.error(str(exc)) from None
            state.add_to_set("ExposedPorts", ports)
            return "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in sorted(ports)) + "]"
        if isinstance(ins, Volume):
            state.add_to_set("Volumes", ins.paths)
            return "VOLUME [" + " ".join(ins.paths) + "]"
        if isinstance(ins, (Cmd, Entrypoint)):
            return self._command(ins)
        if isinstance(ins, Shell):
            config["Shell"] = list(ins.shell)
            return "SHELL [" + " ".join(ins.shell) + "]"
        if isinstance(ins, StopSignal):
            config["StopSignal"] = ins.signal
            return f"STOPSIGNAL {ins.signal}"
        if isinstance(ins, Healthcheck):
            check = _healthcheck(ins)
            config["Healthcheck"] = check
            return "HEALTHCHECK &{" + json.dumps(check["Test"]) + "}"
        if isinstance(ins, Onbuild):
            config["OnBuild"] = [*(config.get("OnBuild") or []), ins.expression]
            return f"ONBUILD {ins.expression}"
        if isinstance(ins, Maintainer):
            state.author = ins.name
            return f"MAINTAINER {ins.name}"
        raise ins.error(f"{ins.keyword} is not an instruction the builder knows")

    def _command(self, ins: Cmd | Entrypoint) -> str:
        argv = [*self.state.shell, ins.command] if ins.shell_form else list(ins.command)
        if isinstance(ins, Cmd):
            self.state.config["Cmd"] = argv
            self.cmd_set = True
        else:
            self.state.config["Entrypoint"] = argv
            if not self.cmd_set:
                self.state.config.pop("Cmd", None)
        return f"{ins.keyword} {json.dumps(argv)}"


def _healthcheck(ins: Healthcheck) -> dict[str, object]:
    """Docker's config form: Test, and the durations (ns) and retries that were given."""
    check: dict[str, object] = {"Test": list(ins.test)}
    for key, value in (("Interval", ins.interval), ("Timeout", ins.timeout),
                       ("StartPeriod", ins.start_period), ("StartInterval", ins.start_interval),
                       ("Retries", ins.retries)):
        if value:
            check[key] = value
    return check


def _display(ins: Instruction) -> str:
    """How a step is shown in progress lines: as written, whitespace folded, kept short."""
    text = " ".join(ins.original.split())
    return text if len(text) <= 120 else text[:117] + "..."
