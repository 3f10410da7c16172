"""`stackup graph` pictures: text tree, mermaid and dot, on conformance projects."""

import json
import shutil
import subprocess

import pytest

from stackup.cli import graph as graph_cli
from stackup.cli import graph_render, main
from stackup.graph import ServiceGraph
from stackup.testing.corpus import CONFORMANCE_CASES

CASES = CONFORMANCE_CASES
needs_corpus = pytest.mark.skipif(not CASES.is_dir(), reason="conformance corpus not present")


def case(name):
    return json.loads((CASES / name / "expected.json").read_text())


def valid_cases():
    if not CASES.is_dir():
        return []
    return [p.parent.name for p in sorted(CASES.glob("*/expected.json"))
            if "--no-consistency" not in (p.parent / "cmd").read_text()]


STACK = {
    "name": "shop",
    "networks": {"back": {"name": "shop_back"}, "default": {"name": "shop_default"}},
    "services": {
        "web": {"image": "nginx:alpine", "networks": {"default": None},
                "depends_on": {"api": {"condition": "service_started", "required": True}}},
        "api": {"build": {"context": "/src/api"}, "networks": {"default": None, "back": None},
                "depends_on": {"db": {"condition": "service_healthy", "required": True, "restart": True},
                               "migrate": {"condition": "service_completed_successfully",
                                           "required": False}}},
        "migrate": {"image": "flyway", "networks": {"back": None}, "profiles": ["setup"],
                    "depends_on": {"db": {"condition": "service_healthy", "required": True}}},
        "db": {"image": "postgres:16", "networks": {"back": None}, "deploy": {"replicas": 2}},
    },
}


def render(fmt, project=STACK):
    return graph_cli.render(project, fmt)


def test_text_is_a_tree_by_start_level_with_conditions():
    assert render("text") == (
        "shop: 4 services in 4 start levels (-> depends on)\n"
        "├── level 1\n"
        "│   └── db  postgres:16  replicas 2  [back]\n"
        "├── level 2\n"
        "│   └── migrate  flyway  [back]  profiles: setup\n"
        "│       └─> db  service_healthy\n"
        "├── level 3\n"
        "│   └── api  build /src/api  [back, default]\n"
        "│       ├─> db  service_healthy, restart\n"
        "│       └─> migrate  service_completed_successfully, optional\n"
        "└── level 4\n"
        "    └── web  nginx:alpine  [default]\n"
        "        └─> api  service_started\n"
        "networks\n"
        "├── back (shop_back): api, db, migrate\n"
        "└── default (shop_default): api, web\n")


def test_mermaid_has_every_service_dependency_and_network():
    out = render("mermaid")
    assert out.startswith("flowchart TD\n")
    assert '    svc_api["api<br/><small>build /src/api</small>"]' in out
    assert '    svc_api -->|"service_healthy, restart"| svc_db' in out
    assert '    svc_api -.->|"service_completed_successfully, optional"| svc_migrate' in out
    assert '    net_back{{"network back"}}' in out
    assert "    svc_web --- net_default" in out


def test_mermaid_ids_are_safe_and_unique():
    project = {"services": {"a-b": {}, "a.b": {}, "end": {"depends_on": ["a-b"]}}}
    out = render("mermaid", project)
    assert 'svc_a_b["a-b"]' in out and 'svc_a_b_2["a.b"]' in out
    assert 'svc_end -->|"service_started"| svc_a_b\n' in out


def test_mermaid_labels_escape_quotes_and_markup():
    project = {"name": 'x"y', "services": {"s": {"image": 'evil"<b>'}}}
    out = render("mermaid", project)
    assert 'evil#quot;#lt;b#gt;' in out and 'evil"' not in out


def test_dot_ranks_levels_and_dashes_optional_edges():
    out = render("dot")
    assert out.startswith('digraph "shop" {\n') and out.endswith("}\n")
    assert '    "api" -> "migrate" [label="service_completed_successfully, optional", style=dashed];' in out
    assert '    "db" [label="db\\npostgres:16  replicas 2"];' in out
    assert '    "network:back" [label="network back", shape=hexagon' in out


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed (.ci/apt.d/graph.txt)")
@pytest.mark.parametrize("name", valid_cases() or ["-"])
def test_dot_output_is_valid_graphviz(name):
    project = STACK if name == "-" else case(name)
    result = subprocess.run(["dot", "-Tsvg"], input=render("dot", project), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "<svg" in result.stdout


@needs_corpus
@pytest.mark.parametrize("fmt", ["text", "mermaid", "dot"])
def test_every_valid_case_renders_every_service(fmt):
    for name in valid_cases():
        project = case(name)
        out = render(fmt, project)
        for service in project["services"]:
            assert service in out, (name, service)


def test_empty_project_renders():
    project = {"name": "empty", "services": {}}
    assert render("text", project) == "empty: 0 services in 0 start levels (-> depends on)\n"
    assert render("mermaid", project).startswith("flowchart TD\n")
    assert render("dot", project).endswith("}\n")


def test_styled_lines_carry_the_same_text_as_plain_text():
    graph = ServiceGraph.from_project_dict(STACK)
    lines = graph_render.text_lines(STACK, graph)
    plain = "".join("".join(t for t, _ in line) + "\n" for line in lines)
    assert plain == render("text")
    assert any(style == "green" for line in lines for _, style in line)


def test_command_prints_the_chosen_format(monkeypatch, capsys):
    monkeypatch.setattr(graph_cli, "load_project_dict", lambda options: (STACK, set()))
    assert main.main(["graph", "--format", "mermaid"]) == 0
    assert capsys.readouterr().out == render("mermaid")
    assert main.main(["graph"]) == 0  # not a terminal under pytest: plain text
    assert capsys.readouterr().out == render("text")


def test_command_reports_a_cycle_in_one_line(monkeypatch, capsys):
    cyclic = {"services": {"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}}}
    monkeypatch.setattr(graph_cli, "load_project_dict", lambda options: (cyclic, set()))
    assert main.main(["graph"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "stackup: dependency cycle detected: a -> b -> a\n"
    assert captured.out == ""


def test_command_rejects_an_unknown_format(monkeypatch, capsys):
    monkeypatch.setattr(graph_cli, "load_project_dict", lambda options: (STACK, set()))
    assert main.main(["graph", "--format", "png"]) == 2
    assert "png" in capsys.readouterr().err


def test_command_passes_global_options_to_the_loader(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(graph_cli, "load_project_dict", lambda options: seen.append(options) or (STACK, set()))
    assert main.main(["-f", "a.yaml", "-p", "demo", "--profile", "setup", "graph", "--format", "dot"]) == 0
    assert seen[0].files == ["a.yaml"] and seen[0].project_name == "demo" and seen[0].profiles == ["setup"]


def test_command_help_exits_zero(capsys):
    # regression: the root callback's annotations must resolve and typer's Exit be caught
    assert main.main(["graph", "--help"]) == 0
    assert "--format" in capsys.readouterr().out


def test_skipped_optional_dependency_is_shown_as_not_in_the_stack():
    project = {"services": {"foo": {"depends_on": {"bar": {"condition": "service_healthy",
                                                            "required": False}}}}}
    assert "└─x bar  service_healthy, optional: not in the stack, skipped\n" in render("text", project)
    assert 'svc_foo -.->|"service_healthy, optional, skipped"| missing_bar' in render("mermaid", project)
    assert '"foo" -> "missing:bar"' in render("dot", project)


def test_named_services_draw_only_them_and_their_dependencies(monkeypatch, capsys):
    monkeypatch.setattr(graph_cli, "load_project_dict", lambda options: (STACK, set()))
    assert main.main(["graph", "migrate"]) == 0
    assert capsys.readouterr().out == (
        "shop: 2 services in 2 start levels (-> depends on)\n"
        "├── level 1\n"
        "│   └── db  postgres:16  replicas 2  [back]\n"
        "└── level 2\n"
        "    └── migrate  flyway  [back]  profiles: setup\n"
        "        └─> db  service_healthy\n"
        "networks\n"
        "└── back (shop_back): db, migrate\n")
    assert main.main(["graph", "nope"]) == 2
    assert capsys.readouterr().err == "stackup: no such service: nope\n"
