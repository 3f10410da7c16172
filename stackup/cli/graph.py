"""`stackup graph`: draw the stack's services, dependencies (with conditions) and networks."""

from __future__ import annotations

import sys
from collections.abc import Set
from enum import Enum

import typer

from stackup.cli.options import GlobalOptions


class Format(str, Enum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


def load_project_dict(options: GlobalOptions) -> tuple[dict, set[str]]:
    """The normalized project (as `stackup config --format json` prints it) and the
    services its profiles disable, from the stack file's loader."""
    from stackup import stackfile

    project = stackfile.load_project(stackfile.LoadOptions(
        files=options.files, project_name=options.project_name,
        project_directory=options.project_directory, env_files=options.env_files,
        profiles=options.profiles))
    return project.to_dict(), set(getattr(project, "disabled_services", ()) or ())


def selected(project: dict, disabled_services: Set[str], services: list[str] | None):
    """The project cut down to `services` and what they depend on (all of it when no
    service is named), and its graph. Networks no kept service uses are left out."""
    from stackup.graph import ServiceGraph

    graph = ServiceGraph.from_project_dict(project, disabled_services)
    if not services:
        return project, graph
    keep = graph.closure(services)
    cut = dict(project)
    cut["services"] = {name: s for name, s in project["services"].items() if name in keep}
    used = {n for s in cut["services"].values() for n in ((s or {}).get("networks") or {})}
    cut["networks"] = {n: v for n, v in (project.get("networks") or {}).items() if n in used}
    return cut, ServiceGraph.from_project_dict(cut, disabled_services)


def render(project: dict, fmt: str, disabled_services: Set[str] = frozenset(),
           services: list[str] | None = None) -> str:
    """The picture of `project` (or of `services` and their dependencies) in `fmt`,
    as plain text without terminal styling."""
    from stackup.cli import graph_render

    project, graph = selected(project, disabled_services, services)
    return graph_render.RENDERERS[fmt](project, graph)


def print_styled_text(project: dict, disabled_services: set[str], services: list[str] | None = None) -> None:
    """The text tree through rich, with colours (only used on a terminal)."""
    from rich.console import Console
    from rich.text import Text

    from stackup.cli import graph_render

    project, graph = selected(project, disabled_services, services)
    console = Console(highlight=False)
    for line in graph_render.text_lines(project, graph):
        console.print(Text.assemble(*[(segment, style or "") for segment, style in line]),
                      soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command("graph")
    def graph_command(
        ctx: typer.Context,
        services: list[str] = typer.Argument(None, metavar="SERVICE",
                                             help="Draw only these services and what they depend on"),
        fmt: Format = typer.Option(Format.text, "--format",
                                   help="text (a tree by start level), mermaid or dot"),
    ) -> None:
        """Draw the stack's services, their dependencies with conditions, and their networks.

        An arrow points from a service to what it depends on; services of one start level
        start in parallel. Pipe `--format dot` into `dot -Tsvg`, or paste `--format mermaid`
        into a Markdown file.
        """
        options: GlobalOptions = ctx.obj or GlobalOptions()
        project, disabled = load_project_dict(options)
        if fmt is Format.text and sys.stdout.isatty():
            print_styled_text(project, disabled, services)
        else:
            sys.stdout.write(render(project, fmt.value, disabled, services))
