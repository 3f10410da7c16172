"""`stackup network ls / create / inspect / rm / prune`: the engine's networks."""

from __future__ import annotations

import json

import typer

from stackup.cli import commands
from stackup.cli.objects import pairs, prune_after_prompt, remove_each, show_list

app = typer.Typer(help=commands.COMMANDS["network"][1], no_args_is_help=True)


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

    show_list(network.list_networks, filters, quiet,
              ("NETWORK ID", "NAME", "DRIVER", "SUBNET", "INTERNAL"),
              lambda n: (n["id"] if no_trunc else n["id"][:12], n["name"], n["driver"],
                         n["ipam"]["subnet"], "yes" if n["internal"] else ""))


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
