"""`stackup config`: parse, resolve and print the stack file in canonical form."""

from __future__ import annotations

import json
import sys

import typer

from stackup.cli import commands


def register(app: typer.Typer) -> None:
    commands.add(app, "config", config)


def config(
    ctx: typer.Context,
    service_names: list[str] = typer.Argument(None, metavar="SERVICE",
                                              help="Only these services (and their dependencies)"),
    fmt: str = typer.Option("yaml", "--format", help="yaml or json"),
    services: bool = typer.Option(False, "--services", help="Print the service names, one per line"),
    volumes: bool = typer.Option(False, "--volumes", help="Print the volume names, one per line"),
    networks: bool = typer.Option(False, "--networks", help="Print the network names, one per line"),
    profiles: bool = typer.Option(False, "--profiles", help="Print the profile names, one per line"),
    images: bool = typer.Option(False, "--images", help="Print the image names, one per line"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only validate the configuration"),
    no_interpolate: bool = typer.Option(False, "--no-interpolate", help="Don't interpolate variables"),
    no_consistency: bool = typer.Option(False, "--no-consistency",
                                        help="Don't check cross-references (undefined networks, ...)"),
    output: str = typer.Option("", "-o", "--output", help="Save to this file (default: standard output)"),
) -> int:
    from stackup.errors import UserError
    from stackup.stackfile import LoadOptions, load_project

    if fmt not in ("yaml", "json"):
        raise UserError(f"unsupported --format {fmt!r} (yaml or json)")
    options = LoadOptions.from_global(ctx.obj, interpolate=not no_interpolate,
                                      consistency=not no_consistency, services=list(service_names or []))
    project = load_project(options)
    for warning in project.warnings:
        print(f"stackup: warning: {warning}", file=sys.stderr)
    if quiet:
        return 0
    # compose doubles every literal `$` so the output can be read back (not with --no-interpolate)
    data = project.to_dict(escape_dollars=project.interpolated, for_yaml=fmt == "yaml")
    lists = {
        "services": services and sorted(data.get("services", {})),
        "volumes": volumes and sorted(data.get("volumes", {})),
        "networks": networks and sorted(data.get("networks", {})),
        "profiles": profiles and project.all_profiles(),
        "images": images and [_image(project.name, n, s) for n, s in sorted(data.get("services", {}).items())],
    }
    chosen = [names for names in lists.values() if names is not False]
    if chosen:
        text = "".join(f"{name}\n" for names in chosen for name in names)
    elif fmt == "json":
        text = go_json(dict(sorted(data.items()))) + "\n"  # compose's JSON sorts the top level
    else:
        import yaml

        text = yaml.dump(data, Dumper=_dumper(yaml), sort_keys=False, default_flow_style=False,
                         allow_unicode=True)
    if not output:
        sys.stdout.write(text)
        return 0
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise UserError(f"--output {output}: {exc.strerror}") from None
    return 0


def _dumper(yaml):
    """A YAML dumper that writes multi-line strings as `|` blocks."""
    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):
        pass

    def text(dumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


def go_json(data) -> str:
    """JSON as Go's encoder writes it: UTF-8 as is, and <, >, & escaped."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _image(project: str, name: str, service: dict) -> str:
    return service.get("image") or f"{project}-{name}"
