"""Properties of the dependency graph on random DAGs (and on DAGs with a cycle added)."""

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackup.errors import UserError
from stackup.graph import CONDITIONS, ServiceGraph

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8)


@st.composite
def dags(draw, min_size=1):
    """A project whose services depend only on services earlier in a random order,
    through depends_on (short or long form) and the implicit attributes."""
    names = draw(st.lists(NAMES, min_size=min_size, max_size=12, unique=True))
    services = {}
    for i, name in enumerate(names):
        targets = draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        service = {}
        long_form = draw(st.booleans())
        depends_on = {} if long_form else []
        for target in targets:
            kind = draw(st.sampled_from(["depends_on", "links", "volumes_from", "network_mode", "ipc"]))
            if kind == "depends_on":
                if long_form:
                    depends_on[target] = {"condition": draw(st.sampled_from(CONDITIONS)),
                                          "required": draw(st.booleans())}
                else:
                    depends_on.append(target)
            elif kind == "links":
                service.setdefault("links", []).append(target + draw(st.sampled_from(["", ":alias"])))
            elif kind == "volumes_from":
                service.setdefault("volumes_from", []).append(target + draw(st.sampled_from(["", ":ro"])))
            elif kind not in service:
                service[kind] = f"service:{target}"
            else:
                service.setdefault("links", []).append(target)
        if depends_on:
            service["depends_on"] = depends_on
        services[name] = service
    return {"name": "p", "services": services}


def edges(graph):
    return [(d.service, d.target) for d in graph.edges()]


@settings(max_examples=150, deadline=None)
@given(dags())
def test_levels_respect_every_edge_and_hold_each_service_once(project):
    graph = ServiceGraph.from_project_dict(project)
    level_of = {s: i for i, level in enumerate(graph.levels()) for s in level}
    assert sorted(level_of) == sorted(project["services"])
    assert sum(len(level) for level in graph.levels()) == len(level_of)
    for service, target in edges(graph):
        assert level_of[target] < level_of[service]
    # generations: each service is as early as it can be
    for service in level_of:
        deps = [level_of[d.target] for d in graph.dependencies(service)]
        assert level_of[service] == (max(deps) + 1 if deps else 0)


@settings(max_examples=150, deadline=None)
@given(dags())
def test_stop_levels_are_start_levels_reversed(project):
    graph = ServiceGraph.from_project_dict(project)
    assert graph.stop_levels() == graph.levels()[::-1]


@settings(max_examples=150, deadline=None)
@given(dags(), st.data())
def test_closure_is_closed_minimal_and_no_deps_is_the_selection(project, data):
    graph = ServiceGraph.from_project_dict(project)
    selection = data.draw(st.lists(st.sampled_from(graph.services), unique=True))
    closure = graph.closure(selection)
    assert set(selection) <= closure
    for service in closure:  # closed: every dependency of a member is a member
        assert {d.target for d in graph.dependencies(service)} <= closure
    for service in closure - set(selection):  # minimal: a dependency of some selected service
        assert any(service in graph.closure([s]) for s in selection)
    assert graph.closure(selection, no_deps=True) == set(selection)
    # the closure's own order is the full order restricted to it
    restricted = [s for level in graph.levels(closure) for s in level]
    assert sorted(restricted) == sorted(closure)


@settings(max_examples=150, deadline=None)
@given(dags(), st.data())
def test_dependents_are_the_inverse_of_closure(project, data):
    graph = ServiceGraph.from_project_dict(project)
    service = data.draw(st.sampled_from(graph.services))
    expected = {s for s in graph.services if s != service and service in graph.closure([s])}
    assert graph.dependents(service) == expected
    direct = {d.service for d in graph.edges() if d.target == service}
    assert graph.dependents(service, transitive=False) == direct


@settings(max_examples=150, deadline=None)
@given(dags(min_size=2), st.data())
def test_a_back_edge_is_reported_as_a_real_cycle(project, data):
    names = list(project["services"])  # insertion order: dependencies come first
    graph = nx.DiGraph()
    graph.add_edges_from((d.service, d.target) for d in ServiceGraph.from_project_dict(project).edges())
    # add an edge from a service to one that (transitively) depends on it
    candidates = [(a, b) for a in names for b in names if a == b or graph.has_node(b)
                  and graph.has_node(a) and nx.has_path(graph, b, a)]
    a, b = data.draw(st.sampled_from(candidates)) if candidates else (names[0], names[0])
    project["services"][a].setdefault("links", []).append(b)
    with pytest.raises(UserError) as info:
        ServiceGraph.from_project_dict(project)
    message = str(info.value)
    assert message.startswith("dependency cycle detected: ")
    path = message.removeprefix("dependency cycle detected: ").split(" -> ")
    assert path[0] == path[-1] and path[0] == min(path)
    graph.add_edge(a, b)
    for source, target in zip(path, path[1:]):
        assert graph.has_edge(source, target)


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.sampled_from(["service:a", "service:b", "container:x", "a:ro", "b", *CONDITIONS]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["a", "b", "condition", "required", "restart"]), inner, max_size=4),
    max_leaves=12)
ATTRIBUTES = ["depends_on", "links", "volumes_from", "network_mode", "ipc", "image"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]),
                       st.none() | st.dictionaries(st.sampled_from(ATTRIBUTES), JUNK, max_size=4),
                       max_size=3))
def test_any_shape_of_input_builds_a_graph_or_gives_a_user_error(services):
    try:
        graph = ServiceGraph.from_project_dict({"services": services})
    except UserError as exc:
        assert exc.lines() and all(isinstance(line, str) and "\n" not in line for line in exc.lines())
    else:
        assert sorted(s for level in graph.levels() for s in level) == sorted(services)
