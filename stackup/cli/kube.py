"""`stackup kube generate / play / down`: a stack as Kubernetes manifests, and
manifests run on stackup's own engine to check them locally.

`kube play FILE` runs the objects it understands (stackup.kube.play) as a compose
project named after the file (`web.yaml` -> `web`, or `-p NAME`), through the same
project layer as `up -d`; `kube down FILE` takes that project down (volumes too with
`-v`). `convert --format kubernetes` is not offered: `kube generate` is the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from stackup.cli import commands
from stackup.errors import UserError

app = typer.Typer(help=commands.COMMANDS["kube"][1], no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="kube")


@app.command("generate")
def generate(
    ctx: typer.Context,
    output: str = typer.Option("-", "-o", "--output", help="A folder for one file per object, or '-' for "
                               "one stream on standard output"),
    push: str = typer.Option("", "--push", metavar="REGISTRY",
                             help="Push the images to REGISTRY (host[:port][/path]) and name them by digest"),
    service_type: str = typer.Option("ClusterIP", "--service-type",
                                     help="Type of the Services of published ports: ClusterIP, NodePort, "
                                     "LoadBalancer"),
    allow_host_path: bool = typer.Option(False, "--allow-host-path", help="Map bind mounts to hostPath volumes"),
    statefulsets: list[str] = typer.Option([], "--statefulset", metavar="SERVICE",
                                           help="Run this service as a StatefulSet (repeatable)"),
    namespace: str = typer.Option("", "--namespace", help="Put every object in this namespace"),
    wait_image: str = typer.Option("busybox:1.36", "--wait-image",
                                   help="Image of the init containers that wait for dependencies"),
) -> int:
    """Write Kubernetes manifests for the stack."""
    from stackup.kube import KubeOptions
    from stackup.kube import generate as kube_generate
    from stackup.kube.model import SERVICE_TYPES
    from stackup.kube.workloads import image_of
    from stackup.stackfile import LoadOptions, load_project

    if service_type not in SERVICE_TYPES:
        raise UserError(f"--service-type {service_type!r}: expected one of {', '.join(SERVICE_TYPES)}")
    project = load_project(LoadOptions.from_global(ctx.obj))
    for warning in project.warnings:
        print(f"stackup: warning: {warning}", file=sys.stderr)
    model = project.to_dict()
    options = KubeOptions(service_type=service_type, allow_host_path=allow_host_path,
                          statefulsets=frozenset(statefulsets), namespace=namespace or None,
                          wait_image=wait_image, environ=dict(project.environment))
    if push:
        from dataclasses import replace

        from stackup.kube.model import Context
        from stackup.kube.push import push_images

        probe = Context(project.name, model, options)
        images = [image_of(probe, name, s) for name, s in model.get("services", {}).items()]
        pushed = push_images(images, push, lambda line: print(line, file=sys.stderr))
        options = replace(options, images=pushed)
    manifests = kube_generate(model, options)
    for warning in manifests.warnings:
        print(f"stackup: warning: {warning}", file=sys.stderr)
    if output == "-":
        sys.stdout.write(dump(manifests.documents))
    else:
        write_folder(Path(output), manifests.documents)
    return 0


def dump(documents: list[dict[str, Any]]) -> str:
    """A YAML stream (no anchors, keys in the order the mapping put them)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    return yaml.dump_all(documents, Dumper=Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, explicit_start=True)


def write_folder(folder: Path, documents: list[dict[str, Any]]) -> None:
    """One file per object, `<name>-<kind>.yaml` (as kompose names them)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for doc in documents:
            path = folder / f"{doc['metadata']['name']}-{doc['kind'].lower()}.yaml"
            path.write_text(dump([doc]), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output {folder}: {exc.strerror}") from None


@app.command("play")
def play(ctx: typer.Context, file: Path = typer.Argument(..., help="A Kubernetes YAML file")) -> int:
    """Run the Pods, Deployments, StatefulSets, Services, ConfigMaps, Secrets and claims of FILE."""
    from stackup.cli import compose_common as cc
    from stackup.project.reconcile import UpOptions
    from stackup.project.up import up as compose_up

    sess = _session(ctx, file)
    # detached, as `podman kube play`; orphans are services no longer in the file
    return compose_up(sess, UpOptions(no_build=True, remove_orphans=True), cc.renderer(ctx), attach=None)


@app.command("down")
def down(ctx: typer.Context, file: Path = typer.Argument(..., help="The file given to kube play"),
         volumes: bool = typer.Option(False, "-v", "--volumes", help="Remove the claims' volumes too")) -> int:
    """Stop and remove what `kube play FILE` started."""
    from stackup.cli import compose_common as cc
    from stackup.project.down import down as compose_down
    from stackup.project.reconcile import DownOptions

    sess = _session(ctx, file)
    return compose_down(sess, DownOptions(volumes=volumes, remove_orphans=True),
                        cc.renderer(ctx))


def _session(ctx: typer.Context, file: Path) -> Any:
    """The compose project of FILE's objects, named after the file (or -p)."""
    import yaml

    from stackup.kube.play import to_compose
    from stackup.project.session import open_session
    from stackup.stackfile import LoadOptions
    from stackup.stackfile.discovery import normalize_project_name

    try:
        documents = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
    except OSError as exc:
        raise UserError(f"{file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else str(file)
        raise UserError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    played = to_compose(documents, str(file))
    for warning in played.warnings:
        print(f"stackup: warning: {warning}", file=sys.stderr)
    name = getattr(ctx.obj, "project_name", None) or normalize_project_name(file.stem)
    if not name:
        raise UserError(f"{file}: no project name in the file name (give one with -p)")
    text = yaml.safe_dump({"name": name, **played.model}, sort_keys=False)
    options = LoadOptions(files=["-"], stdin=text, project_name=name,
                          project_directory=file.resolve().parent)
    return open_session(options)
