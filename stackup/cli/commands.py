"""The table of stackup's commands: name -> (module, one-line help).

The CLI imports a command's module only when that command runs, so `stackup --help`
and light commands stay fast. Each module exposes `register(app)`, which adds its
command (or its command group) to the root Typer app. A command whose module does
not exist yet is simply not offered.
"""

from __future__ import annotations

import importlib.util

# Compose-level commands first (as `docker compose` lists them), then engine groups.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("stackup.cli.up", "Create and start the stack's containers"),
    "down": ("stackup.cli.down", "Stop and remove the stack's containers and networks"),
    "ps": ("stackup.cli.ps", "List the stack's containers"),
    "logs": ("stackup.cli.logs", "Show the output of the stack's containers"),
    "exec": ("stackup.cli.exec", "Run a command in a running service container"),
    "run": ("stackup.cli.run", "Run a one-off command on a service"),
    "start": ("stackup.cli.lifecycle", "Start services"),
    "stop": ("stackup.cli.lifecycle", "Stop services"),
    "restart": ("stackup.cli.lifecycle", "Restart services"),
    "pause": ("stackup.cli.lifecycle", "Pause services"),
    "unpause": ("stackup.cli.lifecycle", "Unpause services"),
    "kill": ("stackup.cli.lifecycle", "Kill services' containers"),
    "rm": ("stackup.cli.lifecycle", "Remove stopped service containers"),
    "wait": ("stackup.cli.lifecycle", "Wait for services' containers to stop"),
    "top": ("stackup.cli.inspecting", "Show the processes of the stack's containers"),
    "port": ("stackup.cli.inspecting", "Print the public port of a port binding"),
    "images": ("stackup.cli.inspecting", "List the images the stack's containers use"),
    "stats": ("stackup.cli.inspecting", "Show resource usage of the stack's containers"),
    "events": ("stackup.cli.inspecting", "Stream the stack's container events"),
    "ls": ("stackup.cli.inspecting", "List running projects"),
    "pull": ("stackup.cli.pull", "Pull the stack's images"),
    "push": ("stackup.cli.pull", "Push the stack's images"),
    "build": ("stackup.cli.build", "Build the stack's images"),
    "watch": ("stackup.cli.watch", "Watch the develop.watch paths and sync, restart or rebuild services"),
    "config": ("stackup.cli.config", "Parse, resolve and print the stack file in canonical form"),
    "graph": ("stackup.cli.graph", "Draw the stack's services, dependencies and networks"),
    "schema": ("stackup.cli.schema", "Write the JSON schema of stack files"),
    "version": ("stackup.cli.version", "Show the stackup version information"),
    "kube": ("stackup.cli.kube", "Kubernetes manifests from the stack (generate), and run them here (play, down)"),
    "image": ("stackup.cli.image", "Manage images (pull, push, load, save, import, ls, rm...)"),
    "container": ("stackup.cli.container", "Manage single containers (run, ps, exec, logs...)"),
    "network": ("stackup.cli.network", "Manage networks"),
    "volume": ("stackup.cli.volume", "Manage volumes"),
    "builder": ("stackup.cli.builder", "Manage the build cache (prune, du)"),
    "system": ("stackup.cli.system", "Check the engine's state against the kernel and repair it"),
}


def available() -> dict[str, tuple[str, str]]:
    """The commands whose module is installed."""
    found: dict[str, bool] = {}
    result = {}
    for name, (module, help_text) in COMMANDS.items():
        if module not in found:
            found[module] = importlib.util.find_spec(module) is not None
        if found[module]:
            result[name] = (module, help_text)
    return result


def add(app, name: str, function, **settings) -> None:
    """Register `function` as the command `name` with its help line from the table above
    (the same line `stackup --help` shows without loading Typer); `settings` go to Typer."""
    app.command(name, help=COMMANDS[name][1], **settings)(function)
