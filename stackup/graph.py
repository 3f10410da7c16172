"""The services' dependency graph: cycles, start order by levels, stop order, closures.

Pure (no I/O): it reads a project dict shaped like `docker compose config --format json`
(what `stackup.stackfile` normalizes to) and also accepts the raw short forms a stack file
allows (a `depends_on` list, `links`, `volumes_from`, `network_mode: service:x`,
`ipc: service:x`), so it works on a normalized project and on a hand-written dict alike.

Edges point from a service to what it depends on (`web -> db`), the direction in which
people read `depends_on` and in which compose prints a cycle. Start order is therefore
the topological order of the reversed graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from stackup.errors import NotFoundError, UserError

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
DEFAULT_CONDITION = "service_started"

# Attributes that make a service depend on another without a depends_on entry, and
# whether compose marks the injected dependency `restart: true` (all but volumes_from).
IMPLICIT_RESTART = {"links": True, "network_mode": True, "ipc": True, "volumes_from": False}


@dataclass(frozen=True)
class Dependency:
    """One edge: `service` needs `target` to reach `condition` before it starts."""

    service: str
    target: str
    condition: str = DEFAULT_CONDITION
    required: bool = True
    restart: bool = False
    # The attributes this dependency comes from: "depends_on", "links", "volumes_from",
    # "network_mode", "ipc" (several when a normalized project repeats an implicit one).
    sources: tuple[str, ...] = ("depends_on",)


class ServiceGraph:
    """The services of one project and the dependencies between them (a DAG)."""

    def __init__(self, services: Iterable[str], dependencies: Iterable[Dependency],
                 skipped: Iterable[Dependency] = ()):
        # `skipped`: optional (required: false) dependencies on services that are not
        # defined or not enabled; kept only so callers can tell the user about them.
        self.skipped: list[Dependency] = sorted(skipped, key=lambda d: (d.service, d.target))
        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(sorted(services))
        for dep in dependencies:
            if dep.service not in graph or dep.target not in graph:
                raise ValueError(f"dependency {dep.service} -> {dep.target} names an unknown service")
            graph.add_edge(dep.service, dep.target, dependency=dep)
        _check_acyclic(graph)
        self._graph = graph

    @classmethod
    def from_project_dict(cls, project: Mapping[str, Any], disabled_services: Iterable[str] = ()) -> ServiceGraph:
        """The graph of `project["services"]`, with every dependency checked.

        A dependency on a service that is not defined, or that a profile disables
        (`disabled_services`), is an error unless it is `required: false`, in which
        case it is dropped, as compose does. All such problems are reported at once.
        """
        services = project.get("services") or {}
        if not isinstance(services, Mapping):
            raise UserError("services: must be a mapping of service names to services")
        disabled = set(disabled_services)
        dependencies: list[Dependency] = []
        skipped: list[Dependency] = []
        problems: list[str] = []
        for name in sorted(services):
            service = services[name] or {}
            if not isinstance(service, Mapping):
                raise UserError(f"services.{name}: must be a mapping")
            for dep in service_dependencies(name, service):
                if dep.target in services:
                    dependencies.append(dep)
                elif dep.required:
                    problems.append(_missing_message(dep, dep.target in disabled))
                else:
                    skipped.append(dep)
        if problems:
            raise UserError(problems[0], problems=problems)
        return cls(services, dependencies, skipped)

    # -- queries ---------------------------------------------------------------------

    @property
    def services(self) -> list[str]:
        return sorted(self._graph.nodes)

    def __contains__(self, service: str) -> bool:
        return service in self._graph

    def dependencies(self, service: str) -> list[Dependency]:
        """The direct dependencies of `service`, sorted by target name."""
        self._check_known([service])
        return [self._graph.edges[service, target]["dependency"]
                for target in sorted(self._graph.successors(service))]

    def edges(self) -> list[Dependency]:
        """Every dependency, sorted by (service, target)."""
        return [self._graph.edges[s, t]["dependency"] for s, t in sorted(self._graph.edges)]

    def levels(self, within: Iterable[str] | None = None) -> list[list[str]]:
        """Start order: each level's services depend only on earlier levels, so they can
        start in parallel. Each service sits in the earliest level it can (topological
        generations). `within` restricts the order to those services (e.g. a closure)."""
        graph = self._restricted(within)
        return [sorted(level) for level in nx.topological_generations(graph.reverse(copy=False))]

    def stop_levels(self, within: Iterable[str] | None = None) -> list[list[str]]:
        """Stop order: dependents before what they depend on (the start levels reversed)."""
        return list(reversed(self.levels(within)))

    def closure(self, selection: Iterable[str], no_deps: bool = False) -> set[str]:
        """The selected services plus everything they depend on, transitively
        (`stackup up web` also starts web's dependencies), or only the selection
        with `no_deps`. An unknown service name is an error."""
        selected = [selection] if isinstance(selection, str) else list(selection)
        self._check_known(selected)
        result = set(selected)
        if not no_deps:
            for service in selected:
                result |= nx.descendants(self._graph, service)
        return result

    def dependents(self, service: str, transitive: bool = True) -> set[str]:
        """The services that depend on `service` (directly, or also transitively)."""
        self._check_known([service])
        if transitive:
            return set(nx.ancestors(self._graph, service))
        return set(self._graph.predecessors(service))

    # -- helpers ---------------------------------------------------------------------

    def _check_known(self, services: Iterable[str]) -> None:
        unknown = sorted({s for s in services if s not in self._graph})
        if unknown:
            problems = [f"no such service: {s}" for s in unknown]
            raise NotFoundError(problems[0], problems=problems)

    def _restricted(self, within: Iterable[str] | None) -> nx.DiGraph[str]:
        if within is None:
            return self._graph
        names = list(within)
        self._check_known(names)
        return self._graph.subgraph(names)


def service_dependencies(name: str, service: Mapping[str, Any]) -> list[Dependency]:
    """The dependencies one service declares, explicit and implicit, one per target.

    In a normalized project the implicit ones are already in `depends_on`; they are
    merged with it (the explicit entry's condition wins) and remember their source.
    """
    found: dict[str, Dependency] = {}
    for dep in _explicit(name, service.get("depends_on")):
        found[dep.target] = dep
    for dep in _implicit(name, service):
        known = found.get(dep.target)
        if known is None:
            found[dep.target] = dep
        elif dep.sources[0] not in known.sources:
            found[dep.target] = Dependency(known.service, known.target, known.condition,
                                           known.required, known.restart,
                                           known.sources + dep.sources)
    return [found[target] for target in sorted(found)]


def _explicit(name: str, depends_on: object) -> list[Dependency]:
    if not depends_on:
        return []
    where = f"services.{name}.depends_on"
    if isinstance(depends_on, list):  # short syntax: a list of names
        return [Dependency(name, target) for target in _strings(where, depends_on)]
    if not isinstance(depends_on, Mapping):
        raise UserError(f"{where}: must be a list or a mapping of services")
    result = []
    for target, options in depends_on.items():
        options = {} if options is None else options
        if not isinstance(options, Mapping):
            raise UserError(f"{where}.{target}: must be a mapping (condition, required, restart)")
        condition = options.get("condition") or DEFAULT_CONDITION
        if condition not in CONDITIONS:
            raise UserError(f"{where}.{target}.condition: "
                            f"{condition!r} is not one of {', '.join(CONDITIONS)}")
        result.append(Dependency(name, str(target), condition,
                                 required=_flag(f"{where}.{target}.required", options.get("required"), True),
                                 restart=_flag(f"{where}.{target}.restart", options.get("restart"), False)))
    return result


def _implicit(name: str, service: Mapping[str, Any]) -> list[Dependency]:
    """Dependencies from links, volumes_from, network_mode and ipc (always required)."""
    targets: list[tuple[str, str]] = []
    for link in _strings(f"services.{name}.links", service.get("links")):
        targets.append((link.split(":", 1)[0], "links"))
    for source in _strings(f"services.{name}.volumes_from", service.get("volumes_from")):
        if not source.startswith("container:"):  # another container, not a service
            targets.append((source.split(":", 1)[0], "volumes_from"))
    for attribute in ("network_mode", "ipc"):
        value = service.get(attribute)
        if isinstance(value, str) and value.startswith("service:"):
            targets.append((value[len("service:"):], attribute))
    return [Dependency(name, target, DEFAULT_CONDITION, True, IMPLICIT_RESTART[source], (source,))
            for target, source in targets]


def _strings(where: str, value: object) -> list[str]:
    """A list of names, or a clear error (a bare string would otherwise be iterated
    character by character)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UserError(f"{where}: must be a list of strings")
    return value


def _flag(where: str, value: object, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise UserError(f"{where}: must be true or false, not {value!r}")
    return value


def _missing_message(dep: Dependency, disabled: bool) -> str:
    via = "depends on" if dep.sources == ("depends_on",) else f"depends on (via {dep.sources[-1]})"
    if disabled:
        return (f'service "{dep.service}" {via} service "{dep.target}", which no active profile '
                f'enables: enable its profile (--profile) or set required: false')
    return f'service "{dep.service}" {via} undefined service "{dep.target}"'


def _check_acyclic(graph: nx.DiGraph[str]) -> None:
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    path = [edge[0] for edge in cycle]
    start = path.index(min(path))  # start at the smallest name, so the message is stable
    path = path[start:] + path[:start]
    raise UserError("dependency cycle detected: " + " -> ".join(path + [path[0]]))
