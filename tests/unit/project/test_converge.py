"""reconcile + executor against an in-memory engine: whatever the starting state,
one `up` reaches the stack (every service has its scale of running, current
containers) and a second `up` plans nothing. Hypothesis explores the states."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from stackup.project import anonymous, naming
from stackup.project.executor import execute
from stackup.project.observed import observe
from stackup.project.reconcile import DownOptions, UpOptions, plan_down, reconcile

from tests.unit.project import _project_stacks as st
from tests.unit.project._fake_engine import FakeEngine

IMAGES = {"img-a": "sha256:" + "1" * 64, "img-b": "sha256:" + "2" * 64}


def up(engine, desired, **options):
    snapshot = observe(engine, desired["name"], desired)
    plan = reconcile(desired, snapshot, UpOptions(**options))
    outcome = execute(plan, engine, workers=3)
    outcome.raise_for_failure()
    return plan


def down(engine, desired, **options):
    plan = plan_down(observe(engine, desired["name"], desired), DownOptions(**options), desired)
    execute(plan, engine, workers=3).raise_for_failure()
    return plan


def assert_converged(engine, desired, scale=None):
    project = desired["name"]
    snapshot = observe(engine, project, desired)
    for service, config in desired["services"].items():
        containers = snapshot.service_containers(service)
        assert len(containers) == naming.service_scale(config, (scale or {}).get(service)), service
        for c in containers:
            assert c.status == "running", c.name
            assert c.config_hash == naming.config_hash(config), c.name
            assert c.image_label == engine.images[naming.service_image(project, service, config)]
            assert c.name == naming.container_name(project, service, c.number, config)
    again = reconcile(desired, snapshot, UpOptions(scale=scale or {}))
    assert again.ops == [], again.render()


def test_webdemo_up_then_nothing_to_do():
    engine = FakeEngine(images=dict(st.IMAGE_IDS))
    desired = st.webdemo()
    up(engine, desired)
    assert_converged(engine, desired)
    assert engine.names() == ["webdemo-backend-1", "webdemo-web-1"]
    assert set(engine.networks) == {"webdemo_default"} and set(engine.volumes) == {"webdemo_site"}


def test_recreate_keeps_the_name_and_removes_the_old():
    engine = FakeEngine(images=dict(st.IMAGE_IDS))
    up(engine, st.webdemo())
    old_web = engine.by_ref("webdemo-web-1").id
    old_backend = engine.by_ref("webdemo-backend-1").id
    changed = st.changed(st.webdemo(), "web", command=["httpd", "-p", "1"])
    up(engine, changed)
    assert_converged(engine, changed)
    assert engine.by_ref("webdemo-web-1").id != old_web
    assert engine.by_ref("webdemo-backend-1").id == old_backend
    assert old_web not in engine.containers


def test_pull_then_image_change_recreates_in_the_second_step():
    desired = st.webdemo()
    engine = FakeEngine(images=dict(st.IMAGE_IDS), registry={st.BUSYBOX: "sha256:" + "9" * 64})
    up(engine, desired)
    first = up(engine, desired, pull="always")
    assert [op.kind.value for op in first.ops] == ["pull"]
    second = up(engine, desired, images_resolved=True)
    assert {op.reason for op in second.ops if op.kind.value == "create"} == {"image changed"}
    assert_converged(engine, desired)


def test_scale_up_down_and_down():
    engine = FakeEngine(images=dict(st.IMAGE_IDS, **{st.NGINX: st.NGINX_ID}))
    desired = st.chain()
    up(engine, desired)
    assert_converged(engine, desired)
    up(engine, desired, scale={"worker": 4})
    assert_converged(engine, desired, scale={"worker": 4})
    up(engine, desired, scale={"worker": 1})
    assert_converged(engine, desired, scale={"worker": 1})
    assert [n for n in engine.names() if "worker" in n] == ["shop-worker-1"]
    down(engine, desired, volumes=True)
    assert engine.containers == {} and engine.networks == {} and engine.volumes == {}


def test_down_without_v_keeps_volumes():
    engine = FakeEngine(images=dict(st.IMAGE_IDS))
    up(engine, st.webdemo())
    down(engine, st.webdemo())
    assert engine.containers == {} and engine.networks == {}
    assert set(engine.volumes) == {"webdemo_site"}


def test_down_stops_dependents_first():
    engine = FakeEngine(images=dict(st.IMAGE_IDS, **{st.NGINX: st.NGINX_ID}))
    up(engine, st.chain())
    engine.calls.clear()
    down(engine, st.chain())
    stops = [subject for method, subject in engine.calls if method == "stop_container"]
    assert stops.index("shop-front-1") < stops.index("shop-api-1") < stops.index("shop-db-1")
    assert stops.index("shop-migrate-1") < stops.index("shop-db-1")


# -- property: any starting state converges in one up ---------------------------

CONDITIONS = ["service_started", "service_healthy", "service_completed_successfully"]


@hs.composite
def stacks(draw):
    count = draw(hs.integers(1, 4))
    services = {}
    for i in range(count):
        depends = {}
        for j in range(i):
            if draw(hs.booleans()):
                depends[f"s{j}"] = {"condition": draw(hs.sampled_from(CONDITIONS)), "required": True,
                                    "restart": draw(hs.booleans())}
        config = {"command": [draw(hs.sampled_from(["a", "b"]))], "entrypoint": None,
                  "image": draw(hs.sampled_from(sorted(IMAGES))), "networks": {"default": None},
                  "scale": draw(hs.integers(0, 3))}
        if depends:
            config["depends_on"] = depends
        if draw(hs.booleans()):
            config["volumes"] = [{"type": "volume", "source": "data", "target": "/d", "volume": {}}]
        services[f"s{i}"] = config
    return {"name": "prop", "networks": {"default": {"name": "prop_default", "ipam": {}}},
            "services": services, "volumes": {"data": {"name": "prop_data"}}}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=stacks(), after=stacks(), statuses=hs.lists(hs.sampled_from(["running", "exited", "paused"]),
                                                            max_size=12),
       new_image=hs.booleans())
def test_any_state_converges_in_one_up(before, after, statuses, new_image):
    engine = FakeEngine(images=dict(IMAGES))
    up(engine, before)
    # disturb it: change statuses, maybe a new image for img-a
    for container, status in zip(sorted(engine.containers.values(), key=lambda c: c.name), statuses):
        container.status = status
    if new_image:
        engine.images["img-a"] = "sha256:" + "3" * 64
    up(engine, after, remove_orphans=True)
    assert_converged(engine, after)
    names = {c.name for c in engine.containers.values()}
    assert all(c.labels[naming.SERVICE] in after["services"] for c in engine.containers.values()), names
    down(engine, after, volumes=True)
    assert engine.containers == {} and engine.networks == {} and engine.volumes == {}


@settings(max_examples=40, deadline=None)
@given(desired=stacks(), pick=hs.integers(0, 3), no_deps=hs.booleans())
def test_selection_leaves_other_services_alone(desired, pick, no_deps):
    engine = FakeEngine(images=dict(IMAGES))
    selected = f"s{pick % len(desired['services'])}"
    up(engine, desired, services=(selected,), no_deps=no_deps)
    touched = {c.labels[naming.SERVICE] for c in engine.containers.values()}
    closure = {selected}
    if not no_deps:
        todo = [selected]
        while todo:
            for dep in desired["services"][todo.pop()].get("depends_on", {}):
                if dep not in closure:
                    closure.add(dep)
                    todo.append(dep)
    assert touched <= closure


def test_run_then_up_ignores_the_one_off_and_orphans_it_once_exited():
    from stackup.project.reconcile import RunOptions, plan_run
    engine = FakeEngine(images=dict(st.IMAGE_IDS))
    d = st.webdemo()
    plan = plan_run(d, observe(engine, "webdemo", d), "web", RunOptions(token="0a1b2c3d4e5f"))
    execute(plan, engine).raise_for_failure()
    assert engine.names() == ["webdemo-backend-1", "webdemo-web-run-0a1b2c3d4e5f"]
    second = reconcile(d, observe(engine, "webdemo", d))
    assert [op.describe() for op in second.ops] == [
        "wait healthy backend (webdemo-backend-1)", "create webdemo-web-1", "start webdemo-web-1"]
    assert second.warnings == []
    engine.by_ref("webdemo-web-run-0a1b2c3d4e5f").status = "exited"
    up(engine, d, remove_orphans=True)
    assert engine.names() == ["webdemo-backend-1", "webdemo-web-1"]


def test_a_recreate_interrupted_after_the_rename_is_finished_by_the_next_up():
    from stackup.errors import StackupError
    engine = FakeEngine(images=dict(st.IMAGE_IDS))
    up(engine, st.webdemo())
    changed = st.changed(st.webdemo(), "web", command=["httpd", "-p", "2"])
    engine.fail[("create_container", "webdemo-web-1")] = StackupError("disk full")
    outcome = execute(reconcile(changed, observe(engine, "webdemo", changed)), engine)
    assert [f.op.kind.value for f in outcome.failures] == ["create"]
    assert [n for n in engine.names() if n.endswith("_webdemo-web-1")] and "webdemo-web-1" not in engine.names()
    del engine.fail[("create_container", "webdemo-web-1")]
    up(engine, changed)
    assert_converged(engine, changed)
    assert engine.names() == ["webdemo-backend-1", "webdemo-web-1"]


def test_anonymous_volumes_survive_a_recreate_unless_renewed():
    engine = FakeEngine(images={st.DB_IMAGE: st.DB_IMAGE_ID}, image_volume_paths=dict(st.DB_IMAGE_VOLUMES))
    desired = st.anonvol()

    def mounts():
        (c,) = observe(engine, "anon", desired).service_containers("db")
        return anonymous.mounts_of(c.labels)

    up(engine, desired)
    first = mounts()
    assert sorted(first) == ["/data", "/var/lib/db"]
    desired = st.changed(desired, "db", environment={"MARK": "two"})
    up(engine, desired)
    assert mounts() == first                      # same volumes at the same paths
    assert_converged(engine, desired)
    up(engine, desired, renew_anon_volumes=True)
    renewed = mounts()
    assert sorted(renewed) == sorted(first) and not set(renewed.values()) & set(first.values())
    assert set(first.values()) <= set(engine.volumes)   # the old ones are left, as compose
    down(engine, desired, volumes=True)
    assert engine.volumes == {} and engine.names() == []


def test_a_replica_count_past_the_bound_is_refused_before_any_plan():
    """A typo such as replicas: 9223372036854775807 must not plan (and fill memory with)
    that many containers: one line, exit code 2 (found by the stack-file fuzz)."""
    from stackup.errors import UserError
    from stackup.project.reconcile import MAX_REPLICAS

    engine = FakeEngine(images=dict(st.IMAGE_IDS, **{st.NGINX: st.NGINX_ID}))
    with pytest.raises(UserError, match=f"services.worker: {2**63 - 1} replicas is more than stackup runs"):
        up(engine, st.chain(), scale={"worker": 2**63 - 1})
    with pytest.raises(UserError, match=f"at most {MAX_REPLICAS}"):
        up(engine, st.chain(), scale={"worker": MAX_REPLICAS + 1})
    assert engine.containers == {}
