"""`stackup network ls / create / inspect / rm / prune`: the engine's networks."""

from __future__ import annotations

import json

import typer

from stackup.errors import UserError

app = typer.Typer(help="Manage networks", no_args_is_help=True)


def parse_filters(filters: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """`label=k[=v]` filters as a dict, `name=x` filters as a list."""
    labels: dict[str, str | None] = {}
    names: list[str] = []
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep or not value:
            raise UserError(f"--filter {f!r}: expected label=KEY[=VALUE] or name=NAME")
        if key == "label":
            k, eq, v = value.partition("=")
            labels[k] = v if eq else None
        elif key == "name":
            names.append(value)
        else:
            raise UserError(f"--filter {f!r}: unknown filter {key!r} (label, name)")
    return labels, names


def pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise UserError(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def public(net: dict) -> dict:
    """A network as `inspect` shows it (Docker's field names where they exist)."""
    ipam = net["ipam"]
    config = {"Subnet": ipam["subnet"], "Gateway": ipam["gateway"]}
    if ipam.get("ip_range"):
        config["IPRange"] = ipam["ip_range"]
    return {
        "Name": net["name"], "Id": net["id"], "Created": net["created"], "Driver": net["driver"],
        "Scope": "local", "Internal": net["internal"], "Attachable": net.get("attachable", True),
        "IPAM": {"Driver": "default", "Config": [config]}, "Options": net.get("options", {}),
        "Labels": net.get("labels", {}), "Bridge": net["bridge"],
        "Containers": {cid: {"Name": ep.get("container_name") or "", "IPv4Address":
                             f"{ep['ip']}/{ep['prefixlen']}", "MacAddress": ep.get("mac", ""),
                             "Aliases": ep.get("names", [])}
                       for cid, ep in net.get("endpoints", {}).items()},
    }


@app.command("ls")
def ls(quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show network names"),
       filters: list[str] = typer.Option([], "--filter", help="label=KEY[=VALUE] or name=NAME"),
       no_trunc: bool = typer.Option(False, "--no-trunc", help="Show full ids")) -> None:
    """List networks."""
    from stackup.engine import network

    labels, names = parse_filters(filters)
    from stackup.engine.network.store import labels_match

    nets = [n for n in network.list_networks() if labels_match(n.get("labels", {}), labels)
            and (not names or any(x in n["name"] for x in names))]
    if quiet:
        for n in nets:
            typer.echo(n["name"])
        return
    rows = [("NETWORK ID", "NAME", "DRIVER", "SUBNET", "INTERNAL")]
    rows += [(n["id"] if no_trunc else n["id"][:12], n["name"], n["driver"], n["ipam"]["subnet"],
              "yes" if n["internal"] else "") for n in nets]
    print_table(rows)


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


@app.command("create")
def create(name: str = typer.Argument(..., help="Network name"),
           driver: str = typer.Option("bridge", "-d", "--driver", help="Only bridge"),
           subnet: str = typer.Option(None, "--subnet", help="Subnet like 10.5.0.0/24"),
           gateway: str = typer.Option(None, "--gateway", help="Gateway address in the subnet"),
           ip_range: str = typer.Option(None, "--ip-range", help="Allocate addresses from this range"),
           internal: bool = typer.Option(False, "--internal", help="No access to the outside"),
           attachable: bool = typer.Option(True, "--attachable/--no-attachable", help="Kept for compatibility"),
           label: list[str] = typer.Option([], "--label", help="KEY=VALUE (repeatable)"),
           opt: list[str] = typer.Option([], "-o", "--opt", help="Driver option KEY=VALUE")) -> None:
    """Create a network."""
    from stackup.engine import network

    config = {k: v for k, v in (("subnet", subnet), ("gateway", gateway), ("ip_range", ip_range)) if v}
    net = network.create_network(name, driver=driver, ipam_config=config or None, internal=internal,
                                 labels=pairs(label, "--label"), options=pairs(opt, "--opt"),
                                 attachable=attachable)
    typer.echo(net["id"])


@app.command("inspect")
def inspect(names: list[str] = typer.Argument(..., help="Network names or ids")) -> None:
    """Show networks in detail (JSON)."""
    from stackup.engine import network

    typer.echo(json.dumps([public(network.get_network(n)) for n in names], indent=2))


@app.command("rm")
def rm(names: list[str] = typer.Argument(..., help="Network names or ids"),
       force: bool = typer.Option(False, "-f", "--force", help="Remove even with containers attached")) -> None:
    """Remove networks."""
    from stackup.engine import network
    from stackup.errors import StackupError

    problems = []
    for name in names:
        try:
            network.remove_network(name, force=force)
            typer.echo(name)
        except StackupError as exc:
            problems += exc.lines()
    if problems:
        raise UserError(problems[0], problems=problems)


@app.command("prune")
def prune(force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
          filters: list[str] = typer.Option([], "--filter", help="label=KEY[=VALUE]")) -> None:
    """Remove all networks no container is attached to."""
    from stackup.engine import network

    labels, names = parse_filters(filters)
    if names:
        raise UserError("--filter name= is not supported by prune")
    if not force and not typer.confirm("Remove all networks not used by any container?"):
        return
    removed = network.prune_networks(labels)
    if removed:
        typer.echo("Deleted Networks:")
        for name in removed:
            typer.echo(name)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="network")
