"""The dependency graph: edges from depends_on and the implicit attributes, errors, order."""

import json

import pytest

from stackup.errors import NotFoundError, UserError
from stackup.graph import Dependency, ServiceGraph, service_dependencies
from stackup.testing.corpus import CONFORMANCE_CASES

CASES = CONFORMANCE_CASES


def project(**services):
    return {"name": "p", "services": services}


def test_short_depends_on_list_is_started_and_required():
    graph = ServiceGraph.from_project_dict(project(web={"depends_on": ["db"]}, db={}))
    assert graph.dependencies("web") == [Dependency("web", "db")]
    assert graph.levels() == [["db"], ["web"]]
    assert graph.stop_levels() == [["web"], ["db"]]


def test_long_depends_on_keeps_condition_required_and_restart():
    graph = ServiceGraph.from_project_dict(project(
        web={"depends_on": {"db": {"condition": "service_healthy", "required": True, "restart": True}}},
        db={}))
    (dep,) = graph.dependencies("web")
    assert (dep.condition, dep.required, dep.restart) == ("service_healthy", True, True)


def test_unknown_condition_is_a_user_error():
    with pytest.raises(UserError, match="services.web.depends_on.db.condition"):
        ServiceGraph.from_project_dict(project(web={"depends_on": {"db": {"condition": "up"}}}, db={}))


@pytest.mark.parametrize("attrs, source, restart", [
    ({"links": ["db:database"]}, "links", True),
    ({"volumes_from": ["db:ro"]}, "volumes_from", False),
    ({"volumes_from": ["db"]}, "volumes_from", False),
    ({"network_mode": "service:db"}, "network_mode", True),
    ({"ipc": "service:db"}, "ipc", True),
])
def test_raw_implicit_dependencies(attrs, source, restart):
    (dep,) = service_dependencies("web", attrs)
    assert dep == Dependency("web", "db", "service_started", True, restart, (source,))


def test_volumes_from_another_container_is_not_a_service_dependency():
    assert service_dependencies("web", {"volumes_from": ["container:legacy"], "ipc": "shareable",
                                        "network_mode": "host"}) == []


def test_normalized_implicit_dependency_is_merged_with_its_depends_on_entry():
    deps = service_dependencies("app", {
        "depends_on": {"db": {"condition": "service_started", "required": True}},
        "volumes_from": ["db"]})
    assert deps == [Dependency("app", "db", sources=("depends_on", "volumes_from"))]


def test_cycle_is_printed_as_a_path():
    with pytest.raises(UserError) as info:
        ServiceGraph.from_project_dict(project(
            service1={"depends_on": ["service2"]}, service2={"depends_on": ["service3"]},
            service3={"depends_on": ["service1"]}))
    assert str(info.value) == "dependency cycle detected: service1 -> service2 -> service3 -> service1"


def test_self_dependency_is_a_cycle():
    with pytest.raises(UserError, match=r"cycle detected: a -> a$"):
        ServiceGraph.from_project_dict(project(a={"links": ["a"]}))


def test_unknown_dependency_is_an_error_unless_not_required():
    with pytest.raises(UserError, match='service "web" depends on undefined service "cache"'):
        ServiceGraph.from_project_dict(project(web={"depends_on": ["cache"]}))
    graph = ServiceGraph.from_project_dict(project(
        web={"depends_on": {"cache": {"condition": "service_healthy", "required": False}}}))
    assert graph.dependencies("web") == []


def test_all_missing_dependencies_are_reported_at_once():
    with pytest.raises(UserError) as info:
        ServiceGraph.from_project_dict(project(a={"depends_on": ["x"]}, b={"links": ["y"]}))
    assert info.value.lines() == ['service "a" depends on undefined service "x"',
                                  'service "b" depends on (via links) undefined service "y"']


def test_profile_disabled_dependency_says_so():
    with pytest.raises(UserError, match='service "bar", which no active profile enables'):
        ServiceGraph.from_project_dict(project(zot={"depends_on": ["bar"]}), disabled_services={"bar"})
    graph = ServiceGraph.from_project_dict(
        project(zot={"depends_on": {"bar": {"condition": "service_started", "required": False}}}),
        disabled_services={"bar"})
    assert graph.services == ["zot"]


def test_closure_and_no_deps():
    graph = ServiceGraph.from_project_dict(project(
        web={"depends_on": ["api"]}, api={"depends_on": ["db", "cache"]}, db={}, cache={}, admin={}))
    assert graph.closure(["web"]) == {"web", "api", "db", "cache"}
    assert graph.closure(["web"], no_deps=True) == {"web"}
    assert graph.levels(graph.closure(["api"])) == [["cache", "db"], ["api"]]
    assert graph.dependents("db") == {"api", "web"}
    assert graph.dependents("db", transitive=False) == {"api"}


def test_unknown_service_in_a_selection_is_not_found():
    graph = ServiceGraph.from_project_dict(project(web={}))
    with pytest.raises(NotFoundError, match="no such service: nope"):
        graph.closure(["web", "nope"])
    with pytest.raises(NotFoundError):
        graph.dependents("nope")


def test_empty_project():
    graph = ServiceGraph.from_project_dict({"services": {}})
    assert graph.levels() == [] and graph.stop_levels() == []


def load_case(name):
    return json.loads((CASES / name / "expected.json").read_text())


@pytest.mark.skipif(not CASES.is_dir(), reason="conformance corpus not present")
def test_every_valid_conformance_case_builds_a_graph():
    count = 0
    for expected in sorted(CASES.glob("*/expected.json")):
        if "--no-consistency" in (expected.parent / "cmd").read_text():
            continue  # the reference skipped its own dependency checks for this one
        graph = ServiceGraph.from_project_dict(json.loads(expected.read_text()))
        flat = [s for level in graph.levels() for s in level]
        assert sorted(flat) == graph.services
        count += 1
    assert count > 80


@pytest.mark.skipif(not CASES.is_dir(), reason="conformance corpus not present")
def test_conformance_implicit_dependencies():
    graph = ServiceGraph.from_project_dict(load_case("e2e-ipc-modes"))
    (dep,) = graph.dependencies("service")
    assert dep.target == "shareable" and dep.restart and "ipc" in dep.sources
    graph = ServiceGraph.from_project_dict(load_case("e2e-volumes-from"))
    assert graph.levels() == [["db"], ["app"]]


@pytest.mark.skipif(not CASES.is_dir(), reason="conformance corpus not present")
def test_links_to_an_undefined_service_fail_the_consistency_check():
    # the reference prints this case only with --no-consistency: db and redis are not services
    with pytest.raises(UserError) as info:
        ServiceGraph.from_project_dict(load_case("cg-full-example"))
    assert 'service "foo" depends on (via links) undefined service "db"' in info.value.lines()


def test_skipped_optional_dependencies_are_remembered_not_drawn_as_edges():
    graph = ServiceGraph.from_project_dict(
        project(web={"depends_on": {"cache": {"condition": "service_healthy", "required": False},
                                    "db": {"condition": "service_started", "required": False}}},
                db={}),
        disabled_services={"cache"})
    assert [d.target for d in graph.edges()] == ["db"]
    assert graph.skipped == [Dependency("web", "cache", "service_healthy", required=False)]


@pytest.mark.parametrize("service, message", [
    ({"links": "db"}, "services.web.links: must be a list of strings"),
    ({"volumes_from": [1]}, "services.web.volumes_from: must be a list of strings"),
    ({"depends_on": {"db": "yes"}}, "services.web.depends_on.db: must be a mapping"),
    ({"depends_on": {"db": {"required": "no"}}}, "services.web.depends_on.db.required: must be true or false"),
    ({"depends_on": 3}, "services.web.depends_on: must be a list or a mapping"),
])
def test_malformed_raw_input_is_a_user_error(service, message):
    with pytest.raises(UserError, match=message):
        ServiceGraph.from_project_dict(project(web=service, db={}))


def test_direct_construction_rejects_edges_to_unknown_services():
    with pytest.raises(ValueError):
        ServiceGraph(["web"], [Dependency("web", "db")])
    graph = ServiceGraph(["web", "db"], [Dependency("web", "db")])
    assert graph.closure("web") == {"web", "db"}  # a lone name is not iterated letter by letter
