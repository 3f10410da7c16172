"""Plans of stop, start, restart and rm on existing containers."""

from stackup.project.lifecycle import plan_restart, plan_rm, plan_start, plan_stop

from tests.unit.project import _project_stacks as st


def lines(plan):
    return plan.render().splitlines()


def test_stop_dependents_first():
    d = st.webdemo()
    plan = plan_stop(st.deployed(d), desired=d, timeout=3)
    assert lines(plan) == ["#1 stop webdemo-web-1: stop (timeout 3s)",
                           "#2 stop webdemo-backend-1: stop (timeout 3s) [after #1]"]


def test_stop_from_labels_alone_and_one_service():
    d = st.webdemo()
    assert [op.subject for op in plan_stop(st.deployed(d)).ops] == ["webdemo-web-1", "webdemo-backend-1"]
    assert [op.subject for op in plan_stop(st.deployed(d), ["backend"]).ops] == ["webdemo-backend-1"]


def test_start_dependencies_first_and_skips_running():
    d = st.webdemo()
    stopped = st.deployed(d, status="exited")
    assert lines(plan_start(stopped, desired=d)) == ["#1 start webdemo-backend-1: start",
                                                     "#2 start webdemo-web-1: start [after #1]"]
    assert plan_start(st.deployed(d), desired=d).is_empty()


def test_restart_stops_then_starts():
    d = st.webdemo()
    assert lines(plan_restart(st.deployed(d), desired=d)) == [
        "#1 stop webdemo-web-1: restart",
        "#2 stop webdemo-backend-1: restart [after #1]",
        "#3 start webdemo-backend-1: start [after #1 #2]",
        "#4 start webdemo-web-1: start [after #1 #2 #3]",
    ]


def test_rm_only_stopped_unless_stop():
    d = st.webdemo()
    running = st.deployed(d)
    assert plan_rm(running).is_empty()
    mixed = st.with_containers(running, st.container(d, "web", 1, status="exited"), drop=("webdemo-web-1",))
    assert lines(plan_rm(mixed)) == ["#1 remove webdemo-web-1: rm"]
    assert [op.kind.value for op in plan_rm(running, stop=True, volumes=True).ops] == \
        ["stop", "remove", "stop", "remove"]
    assert all(op.volumes for op in plan_rm(running, stop=True, volumes=True).ops if op.kind.value == "remove")


def test_restart_of_a_service_restarts_its_restart_true_dependents():
    d = st.chain()
    plan = plan_restart(st.deployed(d), ["db"], desired=d)
    # api declares depends_on db with restart: true; worker (restart false) and front
    # (depends on api without restart) are left alone
    assert lines(plan) == [
        "#1 stop shop-api-1: restart",
        "#2 stop shop-db-1: restart [after #1]",
        "#3 start shop-db-1: start [after #1 #2]",
        "#4 start shop-api-1: start [after #1 #2 #3]",
    ]
    assert [op.subject for op in plan_restart(st.deployed(d), ["api"], desired=d).ops] == \
        ["shop-api-1", "shop-api-1"]


def test_restart_dependents_from_labels_alone_and_transitively():
    from stackup.project.lifecycle import restart_dependents

    d = st.chain()
    assert restart_dependents(st.deployed(d), ["db"]) == ["db", "api"]
    d["services"]["front"]["depends_on"]["api"]["restart"] = True
    assert restart_dependents(st.deployed(d), ["db"], d) == ["db", "api", "front"]
    assert restart_dependents(st.deployed(d), [], d) == []
