"""`stackup network ls / create / inspect / rm / prune`: the engine's networks."""

from __future__ import annotations

import typer

from stackup.cli import commands
from stackup.cli.objects import inspect_each, pairs, prune_after_prompt, remove_each, show_list

app = typer.Typer(help=commands.COMMANDS["network"][1], no_args_is_help=True)


def public(net: dict) -> dict:
    """A network as `docker network inspect` shows it (plus stackup's `Bridge`)."""
    from stackup.cli.shapes import go_time

    ipam = net["ipam"]
    config = {"Subnet": ipam["subnet"], "Gateway": ipam["gateway"]}
    if ipam.get("ip_range"):
        config["IPRange"] = ipam["ip_range"]
    return {
        "Name": net["name"], "Id": net["id"], "Created": go_time(net["created"]), "Scope": "local",
        "Driver": net["driver"], "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": [config]},
        "Internal": net["internal"], "Attachable": net.get("attachable", True), "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": {cid: {"Name": ep.get("container_name") or "", "EndpointID": "",
                             "MacAddress": ep.get("mac", ""),
                             "IPv4Address": f"{ep['ip']}/{ep['prefixlen']}", "IPv6Address": ""}
                       for cid, ep in sorted(net.get("endpoints", {}).items())},
        "Options": net.get("options", {}), "Labels": dict(sorted(net.get("labels", {}).items())),
        "Bridge": net["bridge"],
    }


def row(net: dict, no_trunc: bool = False) -> dict:
    """A row of `docker network ls` (its `--format json` fields and value formats)."""
    from stackup.cli.shapes import created_at, labels_text

    return {"CreatedAt": created_at(net["created"]), "Driver": net["driver"],
            "ID": net["id"] if no_trunc else net["id"][:12], "IPv4": "true", "IPv6": "false",
            "Internal": "true" if net["internal"] else "false", "Labels": labels_text(net.get("labels", {})),
            "Name": net["name"], "Scope": "local"}


@app.command("ls")
def ls(quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show network names"),
       filters: list[str] = typer.Option([], "--filter", help="label=KEY[=VALUE] or name=NAME"),
       no_trunc: bool = typer.Option(False, "--no-trunc", help="Show full ids"),
       fmt: str = typer.Option("table", "--format", help="table, json, or a Go template (table TEMPLATE)")) -> None:
    """List networks."""
    from stackup.engine import network

    show_list(network.list_networks, filters, quiet,
              ("NETWORK ID", "NAME", "DRIVER", "SUBNET", "INTERNAL"),
              lambda n: (n["id"] if no_trunc else n["id"][:12], n["name"], n["driver"],
                         n["ipam"]["subnet"], "yes" if n["internal"] else ""),
              fmt=fmt, as_row=lambda n: row(n, no_trunc))


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
def inspect(names: list[str] = typer.Argument(..., help="Network names or ids"),
            fmt: str = typer.Option(None, "-f", "--format", help="A Go template, or json")) -> None:
    """Show networks in detail (JSON, or a Go template)."""
    from stackup.engine import network

    inspect_each(names, lambda n: public(network.get_network(n)), fmt)


@app.command("rm")
def rm(names: list[str] = typer.Argument(..., help="Network names or ids"),
       force: bool = typer.Option(False, "-f", "--force", help="Remove even with containers attached")) -> None:
    """Remove networks."""
    from stackup.engine import network

    remove_each(names, lambda name: network.remove_network(name, force=force))


@app.command("prune")
def prune(force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
          filters: list[str] = typer.Option([], "--filter", help="label=KEY[=VALUE]")) -> None:
    """Remove all networks no container is attached to."""
    from stackup.engine import network

    prune_after_prompt(filters, force, "Remove all networks not used by any container?",
                       network.prune_networks, "Deleted Networks:")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="network")
