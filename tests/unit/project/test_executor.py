"""The executor on hand-made plans with a recording engine: dependency order,
parallelism, failure propagation, best effort, and the events it reports."""

from __future__ import annotations

import threading

import pytest

from stackup.errors import StackupError
from stackup.project.executor import ExecutionError, execute
from stackup.project.observed import observe
from stackup.project.plan import COMPLETED, HEALTHY, Kind, NetworkRequest, Plan
from stackup.project.reconcile import UpOptions, reconcile

from tests.unit.project import _project_stacks as st
from tests.unit.project._fake_engine import FakeEngine


class Recorder:
    """Records the start and end of every call; `gate` makes named calls wait on a
    barrier so a test can prove two calls run at the same time."""

    def __init__(self, fail=(), barrier_names=(), hold=None):
        self.hold = hold or {}  # name -> threading.Event the call waits for before it ends
        self.lock = threading.Lock()
        self.events = []
        self.fail = set(fail)
        self.barrier = threading.Barrier(len(barrier_names)) if barrier_names else None
        self.barrier_names = set(barrier_names)

    def _do(self, method, subject, result=None):
        with self.lock:
            self.events.append(("begin", subject))
        if subject in self.barrier_names:
            self.barrier.wait(timeout=10)  # a deadlock guard: raises if the other call never comes
        if subject in self.hold:
            assert self.hold[subject].wait(timeout=10)
        with self.lock:
            self.events.append(("end", subject))
        if subject in self.fail:
            raise StackupError(f"{subject} broke")
        return result

    def create_network(self, request):
        return self._do("create_network", request.name)

    def remove_network(self, name):
        return self._do("remove_network", name)

    def pull_image(self, ref):
        return self._do("pull", ref)

    def start_container(self, container):
        return self._do("start", container)

    def log_tail(self, container, lines):
        return ["line 1", "line 2"]


def network_plan(*specs):
    """specs: (name, deps) -> a plan of CREATE_NETWORK ops."""
    plan = Plan("p")
    for name, deps in specs:
        plan.add(Kind.CREATE_NETWORK, name, "test", deps, request=NetworkRequest("p", name, name, {}, {}))
    return plan


def order(recorder, kind="end"):
    return [subject for what, subject in recorder.events if what == kind]


def test_dependencies_finish_before_dependents_start():
    plan = network_plan(("a", []), ("b", [1]), ("c", [1]), ("d", [2, 3]))
    rec = Recorder()
    outcome = execute(plan, rec, workers=4)
    assert outcome.ok and sorted(outcome.done) == [1, 2, 3, 4]
    events = rec.events
    assert events.index(("end", "a")) < events.index(("begin", "b"))
    assert events.index(("end", "a")) < events.index(("begin", "c"))
    assert events.index(("end", "b")) < events.index(("begin", "d"))
    assert events.index(("end", "c")) < events.index(("begin", "d"))


def test_independent_operations_run_in_parallel():
    plan = network_plan(("a", []), ("b", []), ("c", [1, 2]))
    rec = Recorder(barrier_names=("a", "b"))  # a and b each wait for the other
    outcome = execute(plan, rec, workers=2)
    assert outcome.ok
    assert order(rec)[-1] == "c"


def test_one_worker_runs_everything_in_id_order():
    plan = network_plan(("a", []), ("b", []), ("c", []))
    rec = Recorder()
    assert execute(plan, rec, workers=1).ok
    assert order(rec, "begin") == ["a", "b", "c"]


def test_a_failure_stops_scheduling_and_lets_running_ops_finish():
    # a fails while b (independent, running at the same time) must still finish;
    # b ends only once the executor has reported a's failure, so c (after b) must
    # not be scheduled; d depends on a.
    plan = network_plan(("a", []), ("b", []), ("c", [2]), ("d", [1]))
    failed = threading.Event()
    rec = Recorder(fail={"a"}, barrier_names=("a", "b"), hold={"b": failed})
    outcome = execute(plan, rec, workers=2,
                      on_event=lambda e: failed.set() if e.state == "error" else None)
    assert not outcome.ok
    assert [f.op.subject for f in outcome.failures] == ["a"]
    assert ("end", "b") in rec.events
    assert outcome.skipped == [3, 4]
    assert "c" not in order(rec, "begin") and "d" not in order(rec, "begin")
    with pytest.raises(ExecutionError) as caught:
        outcome.raise_for_failure()
    assert caught.value.lines() == ["Network a: create-network a failed: a broke"]


def test_best_effort_failure_is_a_warning():
    plan = Plan("p")
    plan.add(Kind.REMOVE_NETWORK, "gone", "test", best_effort=True)
    plan.add(Kind.REMOVE_NETWORK, "next", "test", [1])
    events = []
    outcome = execute(plan, Recorder(fail={"gone"}), on_event=events.append)
    assert outcome.ok and [w.op.subject for w in outcome.warnings] == ["gone"]
    assert sorted(outcome.done) == [1, 2]
    assert [(e.resource, e.status, e.state) for e in events if e.state != "working"] == [
        ("Network gone", "Warning", "warning"), ("Network next", "Removed", "done")]


def test_start_of_a_created_container_uses_the_create_result():
    engine = FakeEngine(images=dict(st.IMAGE_IDS))
    d = st.webdemo()
    plan = reconcile(d, observe(engine, "webdemo", d))
    outcome = execute(plan, engine)
    assert outcome.ok
    create = plan.of_kind(Kind.CREATE)[0]
    assert outcome.results[create.id] in engine.containers
    assert engine.status() == {"webdemo-backend-1": "running", "webdemo-web-1": "running"}


def test_unhealthy_dependency_names_it_and_shows_its_log():
    engine = FakeEngine(images=dict(st.IMAGE_IDS), unhealthy={"webdemo-backend-1"},
                        logs={"webdemo-backend-1": [f"log {i}" for i in range(15)]})
    d = st.webdemo()
    outcome = execute(reconcile(d, observe(engine, "webdemo", d)), engine)
    assert not outcome.ok
    failure = outcome.failures[0]
    assert failure.op.kind is Kind.WAIT and failure.op.condition == HEALTHY
    lines = failure.lines()
    assert lines[0] == ("Container webdemo-backend-1: wait healthy backend (webdemo-backend-1) failed: "
                        "webdemo-backend-1 is unhealthy")
    assert lines[1:] == [f"  webdemo-backend-1 | log {i}" for i in range(5, 15)]
    # the dependent was never created; what started stays (the next up continues)
    assert engine.names() == ["webdemo-backend-1"]
    assert engine.status() == {"webdemo-backend-1": "running"}


def test_completed_dependency_with_a_non_zero_code_fails_the_wait():
    engine = FakeEngine(images=dict(st.IMAGE_IDS, **{st.NGINX: st.NGINX_ID}), exit_codes={"shop-migrate-1": 3})
    d = st.chain()
    outcome = execute(reconcile(d, observe(engine, "shop", d)), engine)
    failure = outcome.failures[0]
    assert failure.op.condition == COMPLETED
    assert str(failure.error) == "shop-migrate-1 exited with code 3"
    assert "shop-api-1" not in engine.names() and "shop-front-1" not in engine.names()


def test_failed_start_reports_the_log():
    engine = FakeEngine(images=dict(st.IMAGE_IDS), logs={"webdemo-backend-1": ["boom"]})
    engine.fail[("start_container", "webdemo-backend-1")] = StackupError("exec: no such file")
    d = st.webdemo()
    outcome = execute(reconcile(d, observe(engine, "webdemo", d)), engine)
    assert outcome.failures[0].lines() == [
        "Container webdemo-backend-1: start webdemo-backend-1 failed: exec: no such file",
        "  webdemo-backend-1 | boom"]


def test_up_after_a_failure_continues():
    engine = FakeEngine(images=dict(st.IMAGE_IDS), unhealthy={"webdemo-backend-1"})
    d = st.webdemo()
    assert not execute(reconcile(d, observe(engine, "webdemo", d)), engine).ok
    engine.unhealthy.clear()
    plan = reconcile(d, observe(engine, "webdemo", d))
    assert [op.describe() for op in plan.ops] == [
        "wait healthy backend (webdemo-backend-1)", "create webdemo-web-1", "start webdemo-web-1"]
    assert execute(plan, engine).ok


def test_events_follow_compose_words():
    engine = FakeEngine(images=dict(st.IMAGE_IDS))
    d = st.webdemo()
    events = []
    execute(reconcile(d, observe(engine, "webdemo", d), UpOptions()), engine, workers=1, on_event=events.append)
    assert [(e.resource, e.status) for e in events] == [
        ("Network webdemo_default", "Creating"), ("Network webdemo_default", "Created"),
        ("Volume webdemo_site", "Creating"), ("Volume webdemo_site", "Created"),
        ("Container webdemo-backend-1", "Creating"), ("Container webdemo-backend-1", "Created"),
        ("Container webdemo-backend-1", "Starting"), ("Container webdemo-backend-1", "Started"),
        ("Container webdemo-backend-1", "Waiting"), ("Container webdemo-backend-1", "Healthy"),
        ("Container webdemo-web-1", "Creating"), ("Container webdemo-web-1", "Created"),
        ("Container webdemo-web-1", "Starting"), ("Container webdemo-web-1", "Started")]


def test_empty_plan():
    outcome = execute(Plan("p"), Recorder())
    assert outcome.ok and outcome.done == [] and outcome.skipped == []
