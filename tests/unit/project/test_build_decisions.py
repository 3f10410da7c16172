"""When `up`, `run` and `build` build (compose's rules; the plans themselves are golden
files: up-build-mix-*, run-build), what they refuse, and the executor's pull-else-build
on the in-memory engine."""

from __future__ import annotations

import pytest

from stackup.errors import NotFoundError, UserError
from stackup.project.build import BuildFlags
from stackup.project.builds import BuildCommandOptions, plan_build
from stackup.project.executor import ExecutionError, execute
from stackup.project.observed import Snapshot, observe
from stackup.project.plan import BuildRequest, Kind
from stackup.project.reconcile import UpOptions, plan_images, reconcile

from tests.unit.project._fake_engine import FakeEngine


def stack(**services):
    common = {"command": None, "entrypoint": None, "network_mode": "none"}
    return {"name": "p", "services": {name: {**common, **config} for name, config in services.items()}}


def ctx(path="/src", **extra):
    return {"context": path, "dockerfile": "Dockerfile", **extra}


def test_up_build_and_no_build_together_are_refused():
    with pytest.raises(UserError, match="--build and --no-build cannot be used together"):
        reconcile(stack(app={"build": ctx()}), Snapshot("p"), UpOptions(build=True, no_build=True))


def test_no_build_with_a_missing_built_image_is_an_error_naming_it():
    with pytest.raises(NotFoundError, match="services.app: image p-app is not present and --no-build forbids"):
        reconcile(stack(app={"build": ctx()}), Snapshot("p"), UpOptions(no_build=True))


def test_pull_policy_never_builds_a_missing_image_it_can_build():
    plan = reconcile(stack(app={"build": ctx(), "image": "x:1", "pull_policy": "never"}), Snapshot("p"))
    assert plan.ops[0].line() == "#1 build x:1: image not present"


def test_builds_needing_each_other_are_refused():
    d = stack(a={"build": ctx(additional_contexts={"b": "service:b"})},
              b={"build": ctx(additional_contexts={"a": "service:a"})})
    with pytest.raises(UserError, match=r"services.a.build.additional_contexts: .* \(a -> b -> a\)"):
        reconcile(d, Snapshot("p"))


def test_a_build_op_carries_the_mapped_build_and_its_warnings_reach_the_plan():
    d = stack(app={"build": ctx("/src/app", cache_from=["x"], args={"A": "1"})})
    plan = plan_images(d, Snapshot("p"), UpOptions())
    (op,) = plan.ops
    assert isinstance(op.request, BuildRequest) and op.request.spec is not None
    assert op.request.spec.options.build_args == {"A": "1"}
    assert plan.warnings == ["services.app.build.cache_from is not honoured by stackup (it keeps its own "
                             "build cache)"]


def test_an_unsupported_build_key_is_refused_by_up_dry_run_already():
    with pytest.raises(UserError, match=r"services.app.build.platforms"):
        reconcile(stack(app={"build": ctx(platforms=["windows/amd64"])}), Snapshot("p"))


def test_stackup_build_builds_every_selected_service_that_builds_present_or_not():
    d = stack(app={"build": ctx()}, db={"image": "postgres"},
              web={"build": ctx(additional_contexts={"base": "service:base"}), "depends_on": {"app": {}}},
              base={"build": ctx()})
    assert plan_build(d, BuildCommandOptions()).render() == (
        "#1 build p-app: stackup build\n"
        "#2 build p-base: stackup build\n"
        "#3 build p-web: stackup build [after #2]\n")
    # the service: context is built with its user; depends_on only with --with-dependencies
    assert plan_build(d, BuildCommandOptions(services=("web",))).render() == (
        "#1 build p-base: web builds from its image\n"
        "#2 build p-web: stackup build [after #1]\n")
    assert [op.subject for op in plan_build(d, BuildCommandOptions(services=("web",), with_dependencies=True)).ops] \
        == ["p-app", "p-base", "p-web"]
    assert plan_build(d, BuildCommandOptions(services=("db",))).ops == []


def test_stackup_build_flags_reach_every_build():
    d = stack(app={"build": ctx(args={"A": "1"})}, web={"build": ctx()})
    plan = plan_build(d, BuildCommandOptions(flags=BuildFlags(no_cache=True, pull=True, args={"B": "2"})))
    for op in plan.ops:
        options = op.request.spec.options
        assert (options.no_cache, options.pull, options.build_args.get("B")) == (True, True, "2")
    with pytest.raises(NotFoundError, match="no such service: nope"):
        plan_build(d, BuildCommandOptions(services=("nope",)))


def _up(engine, desired, options=None):
    plan = plan_images(desired, observe(engine, "p", desired), options or UpOptions())
    return plan, execute(plan, engine)


def test_image_and_build_is_pulled_when_a_registry_has_it():
    engine = FakeEngine(registry={"reg/app:1": "sha256:pulled"})
    plan, outcome = _up(engine, stack(app={"build": ctx(), "image": "reg/app:1"}))
    assert outcome.ok and engine.calls == [("pull_image", "reg/app:1")]
    assert engine.images["reg/app:1"] == "sha256:pulled"


def test_image_and_build_is_built_when_no_registry_has_it():
    engine = FakeEngine()
    _, outcome = _up(engine, stack(app={"build": ctx(), "image": "reg/app:1"}))
    assert outcome.ok and engine.calls == [("pull_image", "reg/app:1"), ("build_image", "reg/app:1")]


def test_a_failed_pull_of_a_present_buildable_image_only_warns():
    engine = FakeEngine(images={"reg/app:1": "sha256:old"})
    _, outcome = _up(engine, stack(app={"build": ctx(), "image": "reg/app:1"}), UpOptions(pull="always"))
    assert outcome.ok and len(outcome.warnings) == 1
    assert engine.images["reg/app:1"] == "sha256:old" and ("build_image", "reg/app:1") not in engine.calls


def test_a_build_failing_on_bad_input_exits_2_and_a_failed_build_1():
    engine = FakeEngine(fail={("build_image", "p-app"): UserError("Dockerfile:3: unknown instruction: FORM")})
    _, outcome = _up(engine, stack(app={"build": ctx()}))
    error = ExecutionError(outcome.failures)
    assert error.exit_code == 2
    assert error.lines()[0] == ("service app: Image p-app: build p-app failed: Dockerfile:3: unknown "
                                "instruction: FORM")
    from stackup.project.build import BuildFailed

    engine = FakeEngine(fail={("build_image", "p-app"): BuildFailed("exit code: 2", ["make: *** Error 2"])})
    _, outcome = _up(engine, stack(app={"build": ctx()}))
    error = ExecutionError(outcome.failures)
    assert error.exit_code == 1
    assert error.lines() == ["service app: Image p-app: build p-app failed: failed to solve: exit code: 2",
                             "  p-app | make: *** Error 2"]


def test_builds_of_a_level_start_together_and_a_service_context_waits():
    plan = plan_build(stack(a={"build": ctx()}, b={"build": ctx()},
                            c={"build": ctx(additional_contexts={"a": "service:a"})}), BuildCommandOptions())
    assert [(op.subject, op.deps) for op in plan.ops] == [("p-a", ()), ("p-b", ()), ("p-c", (1,))]
    assert all(op.kind is Kind.BUILD for op in plan.ops)
