"""reconcile / plan_down: refusals, and properties the golden texts do not spell out."""

from __future__ import annotations

import pytest

from stackup.errors import NotFoundError, UnsupportedError, UserError
from stackup.project import naming
from stackup.project.observed import Snapshot
from stackup.project.plan import ContainerRequest, Kind
from stackup.project.reconcile import (
    DownOptions,
    UpOptions,
    dependency_order,
    plan_down,
    plan_images,
    reconcile,
    selection_closure,
)

from tests.unit.project import _project_stacks as st


def test_unknown_selected_service():
    with pytest.raises(NotFoundError, match="no such service: nope"):
        reconcile(st.webdemo(), st.empty(st.webdemo()), UpOptions(services=("web", "nope")))


def test_unknown_scaled_service():
    with pytest.raises(NotFoundError, match="--scale: no such service: nope"):
        reconcile(st.webdemo(), st.empty(st.webdemo()), UpOptions(scale={"nope": 2}))


def test_force_and_no_recreate_conflict():
    with pytest.raises(UserError, match="cannot be used together"):
        reconcile(st.webdemo(), st.empty(st.webdemo()), UpOptions(force_recreate=True, no_recreate=True))


def test_bad_pull_value():
    with pytest.raises(UserError, match="--pull 'sometimes'"):
        reconcile(st.webdemo(), st.empty(st.webdemo()), UpOptions(pull="sometimes"))


def test_missing_image_with_pull_never():
    with pytest.raises(NotFoundError, match="services.backend: image stackup.local/busybox:latest is not present"):
        reconcile(st.webdemo(), st.empty(st.webdemo(), images={}), UpOptions(pull="never"))


def test_pull_policy_never_on_the_service():
    d = st.changed(st.webdemo(), "web", pull_policy="never")
    d["services"]["backend"]["image"] = "other"
    with pytest.raises(NotFoundError, match="pull_policy never forbids"):
        reconcile(d, Snapshot("webdemo", images={"other": "sha256:1"}))


def test_periodic_pull_policies_are_refused_by_name():
    d = st.changed(st.webdemo(), "web", pull_policy="daily")
    with pytest.raises(UnsupportedError, match="services.web.pull_policy: 'daily' is not supported"):
        reconcile(d, st.empty(d))


def test_pull_policy_build_needs_a_build_section():
    d = st.changed(st.webdemo(), "web", pull_policy="build")
    with pytest.raises(UserError, match="no build section"):
        reconcile(d, st.empty(d))


def test_missing_external_network_and_volume():
    d = st.webdemo()
    d["networks"]["outside"] = {"name": "outside", "ipam": {}, "external": True}
    d["services"]["web"]["networks"]["outside"] = None
    with pytest.raises(NotFoundError, match="network outside declared as external, but could not be found"):
        reconcile(d, st.empty(d))
    d = st.webdemo()
    d["volumes"]["site"] = {"name": "site", "external": True}
    with pytest.raises(NotFoundError, match="external volume site not found"):
        reconcile(d, st.empty(d))


def test_container_name_with_replicas():
    d = st.changed(st.webdemo(), "web", container_name="front")
    assert [op.subject for op in reconcile(d, st.empty(d)).of_kind(Kind.CREATE)] == ["webdemo-backend-1", "front"]
    with pytest.raises(UserError, match="container_name 'front' is unique and cannot be used with 2 replicas"):
        reconcile(d, st.empty(d), UpOptions(scale={"web": 2}))


def test_create_requests_carry_labels_and_config():
    d = st.webdemo()
    plan = reconcile(d, st.empty(d), UpOptions(config_files=("/s/compose.yaml",), working_dir="/s"))
    request = plan.of_kind(Kind.CREATE)[1].request
    assert isinstance(request, ContainerRequest)
    assert (request.project, request.service, request.number, request.name, request.image) == \
        ("webdemo", "web", 1, "webdemo-web-1", st.BUSYBOX)
    assert request.config == d["services"]["web"]
    assert request.labels[naming.CONFIG_HASH] == naming.config_hash(d["services"]["web"])
    assert request.labels[naming.CONFIG_FILES] == "/s/compose.yaml"
    assert request.labels[naming.WORKING_DIR] == "/s"
    net = plan.of_kind(Kind.CREATE_NETWORK)[0].request
    assert net.labels[naming.NETWORK] == "default" and net.config == d["networks"]["default"]


def test_dependencies_outside_the_stack_are_ignored():
    d = st.changed(st.webdemo(), "web", depends_on={"gone": {"condition": "service_healthy", "required": False}})
    plan = reconcile(d, st.empty(d))
    assert plan.of_kind(Kind.WAIT) == []


def test_unknown_condition():
    d = st.changed(st.webdemo(), "web", depends_on={"backend": {"condition": "service_bored"}})
    with pytest.raises(UserError, match="unknown condition 'service_bored'"):
        reconcile(d, st.empty(d))


def test_no_change_up_is_empty_for_every_status_that_needs_nothing():
    d = st.webdemo()
    assert reconcile(d, st.deployed(d, status="restarting")).is_empty()
    assert reconcile(d, st.deployed(d, status="running")).render() == ""


def test_plan_images_holds_only_pulls_and_builds():
    d = st.webdemo()
    plan = plan_images(d, st.empty(d, images={}))
    assert [op.kind for op in plan.ops] == [Kind.PULL]


def test_dependency_order_and_cycles():
    services = {"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"c": {}}}, "c": {}, "d": {}}
    assert dependency_order(services) == ["c", "d", "b", "a"]
    with pytest.raises(UserError, match="dependency cycle detected between services: a, b"):
        dependency_order({"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"a": {}}}})
    assert selection_closure(services, ["a"], no_deps=False) == {"a", "b", "c"}
    assert selection_closure(services, ["a"], no_deps=True) == {"a"}
    assert selection_closure(services, [], no_deps=True) == {"a", "b", "c", "d"}


def test_plan_ids_are_a_topological_order():
    plan = reconcile(st.chain(), st.empty(st.chain()), UpOptions(wait=True))
    for op in plan.ops:
        assert all(dep < op.id for dep in op.deps)


def test_down_bad_rmi():
    with pytest.raises(UserError, match="--rmi 'some'"):
        plan_down(st.deployed(st.webdemo()), DownOptions(rmi="some"))


def test_down_removes_anonymous_volumes_with_v():
    plan = plan_down(st.deployed(st.webdemo()), DownOptions(volumes=True))
    assert all(op.volumes for op in plan.of_kind(Kind.REMOVE))
    plan = plan_down(st.deployed(st.webdemo()), DownOptions())
    assert not any(op.volumes for op in plan.of_kind(Kind.REMOVE))


def test_down_leaves_unlabelled_and_foreign_resources():
    from stackup.project.observed import ObservedNetwork, ObservedVolume
    snap = Snapshot("webdemo", networks=(ObservedNetwork("n", "outside"),
                                         ObservedNetwork("m", "x", naming.network_labels("other", "default"))),
                    volumes=(ObservedVolume("site"),))
    assert plan_down(snap, DownOptions(volumes=True)).is_empty()


def test_wait_on_an_optional_dependency_is_best_effort_until_one_requires_it():
    d = st.changed(st.webdemo(), "web", depends_on={"backend": {"condition": "service_healthy", "required": False}})
    wait = reconcile(d, st.empty(d)).of_kind(Kind.WAIT)[0]
    assert wait.best_effort and "(best effort)" in wait.line()
    d["services"]["other"] = dict(d["services"]["web"], ports=[],
                                  depends_on={"backend": {"condition": "service_healthy", "required": True}})
    waits = reconcile(d, st.empty(d)).of_kind(Kind.WAIT)
    assert len(waits) == 1 and not waits[0].best_effort


def test_run_builds_a_one_off_request():
    from stackup.project.reconcile import RunOptions, plan_run
    d = st.changed(st.webdemo(), "web", restart="always")
    plan = plan_run(d, st.deployed(d), "web", RunOptions(token="0a1b2c3d4e5f", overrides={"command": ["sh"]}))
    request = plan.of_kind(Kind.CREATE)[0].request
    assert request.name == "webdemo-web-run-0a1b2c3d4e5f"
    assert request.config["command"] == ["sh"]
    assert "ports" not in request.config and "restart" not in request.config
    assert request.labels[naming.ONEOFF] == "True"
    with_ports = plan_run(d, st.deployed(d), "web", RunOptions(token="x", service_ports=True))
    assert with_ports.of_kind(Kind.CREATE)[0].request.config["ports"] == d["services"]["web"]["ports"]
    with pytest.raises(NotFoundError, match="no such service: nope"):
        plan_run(d, st.deployed(d), "nope", RunOptions(token="x"))


def test_wait_ready_follows_the_healthy_wait_of_the_same_service():
    d = st.webdemo()
    plan = reconcile(d, st.empty(d), UpOptions(wait=True))
    healthy = [op for op in plan.ops if op.kind is Kind.WAIT and op.condition == "healthy"]
    ready = [op for op in plan.ops if op.kind is Kind.WAIT and op.condition == "ready" and op.service == "backend"]
    assert len(healthy) == 1 and len(ready) == 1
    assert healthy[0].id in ready[0].deps


# -- anonymous volumes on recreate ---------------------------------------------


def _creates(plan):
    return {op.subject: op.request for op in plan.of_kind(Kind.CREATE)}


def test_recreate_hands_on_anonymous_volumes_by_path():
    changed = st.changed(st.anonvol(), "db", environment={"MARK": "two"})
    plan = reconcile(changed, st.anonvol_deployed())
    assert _creates(plan)["anon-db-1"].anonymous_volumes == {"/data": "v-data", "/var/lib/db": "v-db"}
    # the old container goes without its volumes: the new one uses them
    (remove,) = plan.of_kind(Kind.REMOVE)
    assert remove.volumes is False


def test_renew_anon_volumes_forces_a_recreate_with_fresh_volumes():
    plan = reconcile(st.anonvol(), st.anonvol_deployed(), UpOptions(renew_anon_volumes=True))
    assert _creates(plan)["anon-db-1"].anonymous_volumes == {}
    assert plan.of_kind(Kind.REMOVE)[0].volumes is False    # as compose: the old ones are left, not removed


def test_renew_anon_volumes_and_no_recreate_conflict():
    with pytest.raises(UserError, match="--renew-anon-volumes and --no-recreate"):
        reconcile(st.anonvol(), st.anonvol_deployed(), UpOptions(renew_anon_volumes=True, no_recreate=True))


def test_renew_anon_volumes_forces_only_the_selected_services():
    plan = reconcile(st.webdemo(), st.deployed(st.webdemo()), UpOptions(services=("web",),
                                                                       renew_anon_volumes=True))
    assert sorted(_creates(plan)) == ["webdemo-web-1"]
    assert "forced (--renew-anon-volumes)" in plan.render()


def test_a_path_now_covered_by_a_named_volume_takes_nothing_over():
    d = st.changed(st.anonvol(), "db", volumes=[
        {"type": "volume", "target": "/data", "volume": {}},
        {"type": "volume", "source": "dbdata", "target": "/var/lib/db", "volume": {}}])
    d["volumes"] = {"dbdata": {"name": "anon_dbdata"}}
    plan = reconcile(d, st.anonvol_deployed())
    assert _creates(plan)["anon-db-1"].anonymous_volumes == {"/data": "v-data"}


def test_a_new_anonymous_path_gets_a_fresh_volume():
    d = st.changed(st.anonvol(), "db", volumes=[{"type": "volume", "target": "/other", "volume": {}}])
    plan = reconcile(d, st.anonvol_deployed())
    assert _creates(plan)["anon-db-1"].anonymous_volumes == {"/var/lib/db": "v-db"}
    assert "leaves its anonymous volumes /data" in plan.render()


def test_a_container_without_the_label_hands_nothing_on():
    changed = st.changed(st.anonvol(), "db", environment={"MARK": "two"})
    snapshot = st.anonvol_deployed()
    bare = st.container(st.anonvol(), "db", 1, image_id=st.DB_IMAGE_ID)
    plan = reconcile(changed, st.with_containers(snapshot, bare, drop=("anon-db-1",)))
    assert _creates(plan)["anon-db-1"].anonymous_volumes == {}
    assert "anonymous" not in plan.render()


def test_scale_up_and_one_offs_get_fresh_anonymous_volumes():
    plan = reconcile(st.anonvol(), st.anonvol_deployed(), UpOptions(scale={"db": 2}))
    assert _creates(plan)["anon-db-2"].anonymous_volumes == {}
