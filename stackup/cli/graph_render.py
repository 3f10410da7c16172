"""Pictures of a stack: its services by start level, their dependencies and networks.

Pure functions from a normalized project dict (the shape of `stackup config --format
json`) to text. `text_lines` returns styled segments so the command can print them
plainly or through rich on a terminal; `text`, `mermaid` and `dot` return strings.
In every format an arrow points from a service to what it depends on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from stackup.graph import Dependency, ServiceGraph

Segment = tuple[str, str]  # (text, rich style; "" for none)
Line = list[Segment]

CONDITION_STYLE = {"service_started": "", "service_healthy": "green",
                   "service_completed_successfully": "blue"}


# -- what the pictures say about a service, a dependency, a network ---------------------

def service_summary(service: Mapping) -> str:
    """What runs: the image (or the build context, or the provider), replicas, a special
    network mode."""
    parts = []
    if service.get("image"):
        parts.append(str(service["image"]))
    build = service.get("build")
    if build and not service.get("image"):
        context = build.get("context", ".") if isinstance(build, Mapping) else build
        parts.append(f"build {context}")
    provider = service.get("provider")
    if isinstance(provider, Mapping) and provider.get("type"):
        parts.append(f"provider {provider['type']}")
    replicas = (service.get("deploy") or {}).get("replicas", service.get("scale"))
    if replicas is not None and replicas != 1:
        parts.append(f"replicas {replicas}")
    mode = service.get("network_mode")
    if mode:
        parts.append(f"network_mode {mode}")
    return "  ".join(parts)


def service_networks(service: Mapping) -> list[str]:
    networks = service.get("networks") or {}
    return sorted(networks) if isinstance(networks, Mapping) else sorted(map(str, networks))


def dependency_label(dep: Dependency) -> str:
    """The condition, then what else matters: restart, optional, implicit origin."""
    parts = [dep.condition]
    if dep.restart:
        parts.append("restart")
    if not dep.required:
        parts.append("optional")
    implicit = [s for s in dep.sources if s != "depends_on"]
    if implicit:
        parts.append("via " + ", ".join(implicit))
    return ", ".join(parts)


def network_members(project: Mapping) -> dict[str, list[str]]:
    """Each top-level network and the services attached to it."""
    services = project.get("services") or {}
    members: dict[str, list[str]] = {name: [] for name in sorted(project.get("networks") or {})}
    for name in sorted(services):
        for network in service_networks(services[name] or {}):
            members.setdefault(network, []).append(name)
    return members


def _network_name(project: Mapping, key: str) -> str:
    network = (project.get("networks") or {}).get(key) or {}
    return str(network.get("name") or key)


# -- text: a tree by start level -------------------------------------------------------

def text_lines(project: Mapping, graph: ServiceGraph) -> list[Line]:
    services = project.get("services") or {}
    levels = graph.levels()
    title = project.get("name") or "stack"
    count = len(graph.services)
    lines: list[Line] = [[(str(title), "bold"), (
        f": {count} service{'s' if count != 1 else ''} in {len(levels)} "
        f"start level{'s' if len(levels) != 1 else ''} (-> depends on)", "")]]
    for index, level in enumerate(levels):
        last_level = index == len(levels) - 1
        lines.append([("└── " if last_level else "├── ", "dim"), (f"level {index + 1}", "bold")])
        outer = "    " if last_level else "│   "
        for position, name in enumerate(level):
            last = position == len(level) - 1
            lines.append(_service_line(outer + ("└── " if last else "├── "), name, services[name] or {}))
            inner = outer + ("    " if last else "│   ")
            deps = graph.dependencies(name)
            skipped = [dep for dep in graph.skipped if dep.service == name]
            for d_index, dep in enumerate(deps + skipped):
                branch = "└─" if d_index == len(deps) + len(skipped) - 1 else "├─"
                if dep in skipped:
                    lines.append([(inner + branch + "x ", "dim"), (dep.target, "dim"),
                                  ("  " + dependency_label(dep) + ": not in the stack, skipped", "dim")])
                    continue
                lines.append([(inner + branch + "> ", "dim"), (dep.target, "cyan"), ("  ", ""),
                              (dependency_label(dep), CONDITION_STYLE.get(dep.condition, ""))])
    members = network_members(project)
    if members:
        lines.append([("networks", "bold")])
        for n_index, (network, names) in enumerate(members.items()):
            branch = "└── " if n_index == len(members) - 1 else "├── "
            real = _network_name(project, network)
            label = network if real == network else f"{network} ({real})"
            lines.append([(branch, "dim"), (label, "magenta"),
                          (": " + (", ".join(names) if names else "no services"), "")])
    return lines


def _service_line(prefix: str, name: str, service: Mapping) -> Line:
    line: Line = [(prefix, "dim"), (name, "bold cyan")]
    summary = service_summary(service)
    if summary:
        line.append(("  " + summary, ""))
    networks = service_networks(service)
    if networks:
        line.append(("  [" + ", ".join(networks) + "]", "magenta"))
    profiles = service.get("profiles") or []
    if profiles:
        line.append(("  profiles: " + ", ".join(profiles), "yellow"))
    return line


def text(project: Mapping, graph: ServiceGraph) -> str:
    return "".join("".join(segment for segment, _ in line) + "\n"
                   for line in text_lines(project, graph))


# -- mermaid flowchart -----------------------------------------------------------------

def _ids(prefix: str, names: list[str]) -> dict[str, str]:
    """Mermaid-safe node ids that stay readable (`svc_web`), unique even when two names
    differ only in characters mermaid ids cannot hold."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        ids[name] = candidate
    return ids


def _mermaid_text(value: str) -> str:
    # inside a quoted mermaid label, quotes and markup characters go as entity codes
    return (value.replace("&", "#amp;").replace('"', "#quot;")
            .replace("<", "#lt;").replace(">", "#gt;"))


def mermaid(project: Mapping, graph: ServiceGraph) -> str:
    services = project.get("services") or {}
    members = network_members(project)
    svc = _ids("svc_", graph.services)
    net = _ids("net_", list(members))
    out = ["flowchart TD", f"    %% {_mermaid_text(str(project.get('name') or 'stack'))}: "
           "an arrow points from a service to what it depends on"]
    for name in graph.services:
        summary = service_summary(services[name] or {})
        label = _mermaid_text(name) + (f"<br/><small>{_mermaid_text(summary)}</small>" if summary else "")
        out.append(f'    {svc[name]}["{label}"]')
    for dep in graph.edges():
        arrow = "-->" if dep.required else "-.->"
        out.append(f'    {svc[dep.service]} {arrow}|"{_mermaid_text(dependency_label(dep))}"| {svc[dep.target]}')
    missing = _ids("missing_", sorted({dep.target for dep in graph.skipped}))
    for target, node in missing.items():
        out.append(f'    {node}["{_mermaid_text(target)}<br/><small>not in the stack</small>"]')
    for dep in graph.skipped:
        out.append(f'    {svc[dep.service]} -.->|"{_mermaid_text(dependency_label(dep))}, skipped"| '
                   f"{missing[dep.target]}")
    for network, names in members.items():
        out.append(f'    {net[network]}{{{{"network {_mermaid_text(network)}"}}}}')
        for name in names:
            out.append(f"    {svc[name]} --- {net[network]}")
    if members:
        out.append("    classDef network fill:#eef,stroke:#88a,stroke-dasharray: 4 2")
        out.append("    class " + ",".join(net.values()) + " network")
    if missing:
        out.append("    classDef missing color:#888,stroke:#aaa,stroke-dasharray: 2 2")
        out.append("    class " + ",".join(missing.values()) + " missing")
    return "\n".join(out) + "\n"


# -- graphviz dot ----------------------------------------------------------------------

def _dot_id(value: str) -> str:
    # a JSON string is a valid DOT quoted id (backslash and quote escaped); \n is DOT's newline
    return json.dumps(value, ensure_ascii=False)


def dot(project: Mapping, graph: ServiceGraph) -> str:
    services = project.get("services") or {}
    members = network_members(project)
    out = [f"digraph {_dot_id(str(project.get('name') or 'stack'))} {{",
           "    rankdir=TB;",
           '    node [shape=box, style=rounded, fontname="Helvetica"];',
           '    edge [fontname="Helvetica", fontsize=10];']
    for name in graph.services:
        summary = service_summary(services[name] or {})
        out.append(f"    {_dot_id(name)} [label={_dot_id(name + (chr(10) + summary if summary else ''))}];")
    for index, level in enumerate(graph.levels()):
        if len(level) > 1:  # services that start together share a rank
            out.append(f"    {{ rank=same; {'; '.join(_dot_id(s) for s in level)}; }}"
                       f"  // start level {index + 1}")
    for dep in graph.edges():
        style = "" if dep.required else ", style=dashed"
        out.append(f"    {_dot_id(dep.service)} -> {_dot_id(dep.target)} "
                   f"[label={_dot_id(dependency_label(dep))}{style}];")
    for target in sorted({dep.target for dep in graph.skipped}):
        out.append(f"    {_dot_id('missing:' + target)} [label={_dot_id(target + chr(10) + 'not in the stack')}, "
                   "style=\"rounded,dotted\", fontcolor=gray40, color=gray40];")
    for dep in graph.skipped:
        out.append(f"    {_dot_id(dep.service)} -> {_dot_id('missing:' + dep.target)} "
                   f"[label={_dot_id(dependency_label(dep) + ', skipped')}, style=dotted, color=gray40];")
    for network, names in members.items():
        node = _dot_id("network:" + network)
        out.append(f"    {node} [label={_dot_id('network ' + network)}, shape=hexagon, "
                   "style=dashed, color=gray40];")
        for name in names:
            out.append(f"    {_dot_id(name)} -> {node} [dir=none, style=dotted, color=gray40];")
    out.append("}")
    return "\n".join(out) + "\n"


RENDERERS = {"text": text, "mermaid": mermaid, "dot": dot}
