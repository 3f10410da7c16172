"""`stackup image …`: pull, push, load, save, import, bootstrap, ls, inspect, tag, rm, prune."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from stackup.cli import commands
from stackup.cli.table import print_table
from stackup.engine.images.reference import parse_reference
from stackup.engine.images.store import Image, ImageStore
from stackup.errors import UserError

if TYPE_CHECKING:
    from stackup.engine.runtime.containerstate import ContainerState

group = typer.Typer(no_args_is_help=True, help=commands.COMMANDS["image"][1],
                    context_settings={"help_option_names": ["-h", "--help"]})


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="image")


def _store() -> ImageStore:
    return ImageStore()


def _in_use() -> Callable[[Image], list[str]] | None:
    """Which containers use an image, asked of the container runtime when it is installed.

    A container uses an image when its spec names the image id, or stacks exactly the
    image's layer directories.
    """
    try:
        runtime = importlib.import_module("stackup.engine.runtime.container")
    except ImportError:
        return None
    containers: list[ContainerState] = runtime.Runtime().list()

    def users(image: Image) -> list[str]:
        dirs = [str(p) for p in image.layer_dirs()]
        found = []
        for c in containers:
            spec = c.container_spec()
            if spec.image_id == image.id or spec.layers == dirs:
                found.append(c.name or c.id)
        return found
    return users


def _progress_mode(ctx: typer.Context) -> str:
    mode = getattr(ctx.obj, "progress", "auto") if ctx.obj is not None else "auto"
    if mode == "auto":
        return "tty" if sys.stderr.isatty() else "plain"
    return mode


def human_size(n: float, precision: int = 3) -> str:
    """Docker's units.HumanSizeWithPrecision: `1.98MB` (3 significant digits), `0B`."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.{precision}g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as images carry it (Go writes nanoseconds; Python takes micro)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text or "")
    if not m:
        return None
    fraction = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    try:
        return datetime.fromisoformat(f"{m.group(1)}.{fraction}{zone}")
    except ValueError:
        return None


def human_age(created: str) -> str:
    """Docker's CREATED: `5 minutes ago`, `2 years ago` (units.HumanDuration)."""
    from stackup.cli.shapes import human_duration

    when = parse_time(created)
    if when is None:
        return "N/A"
    return human_duration((datetime.now(timezone.utc) - when).total_seconds()) + " ago"


@group.command("import")
def import_(
    rootfs: str = typer.Argument(..., metavar="ROOTFS.tar",
                                 help="Filesystem tarball (plain, gzip or zstd), '-' for stdin"),
    name: str = typer.Argument(None, metavar="NAME[:TAG]"),
    change: list[str] = typer.Option([], "-c", "--change",
                                     help="Apply a Dockerfile instruction (CMD, ENV, ...)"),
    message: str = typer.Option("", "-m", "--message", help="Commit message for the history"),
) -> None:
    """Make an image from a plain filesystem tarball, as `docker import` does."""
    store = _store()
    if rootfs == "-":
        import shutil
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="stackup-import-", suffix=".tar") as tmp:
            shutil.copyfileobj(sys.stdin.buffer, tmp)
            tmp.flush()
            image = store.import_rootfs(Path(tmp.name), name or "", change, message)
    else:
        image = store.import_rootfs(Path(rootfs), name or "", change, message)
    print(image.id)


@group.command("ls")
def ls(
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show image IDs"),
    all_: bool = typer.Option(False, "-a", "--all", help="Show all images (also untagged)"),
    digests: bool = typer.Option(False, "--digests", help="Show digests"),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output"),
    fmt: str = typer.Option("table", "--format", help="table, json, or a Go template (table TEMPLATE)"),
) -> None:
    """List images."""
    from stackup.cli import formatting, gotemplate

    if fmt.strip() not in ("", "table", "json"):
        gotemplate.parse(fmt)
    rows = []
    for image in _store().list():
        names = image.references or ["<none>:<none>"]
        if not image.references and not all_:
            names = ["<none>:<none>"]
        for name in names:
            repo, tag = ("<none>", "<none>") if name.startswith("<none>") else _split(name)
            digest = next((d.split("@", 1)[1] for d in image.repo_digests if d.startswith(repo + "@")),
                          "<none>")
            rows.append((repo, tag, digest, image))
    if quiet:
        seen: list[str] = []
        for _, _, _, im in rows:
            ident = im.id if no_trunc else im.short_id
            if ident not in seen:
                seen.append(ident)
        print("\n".join(seen)) if seen else None
        return

    def table() -> None:
        header = ["REPOSITORY", "TAG"] + (["DIGEST"] if digests else []) + ["IMAGE ID", "CREATED", "SIZE"]
        print_table([header] + [[r, t] + ([d] if digests else []) +
                                [im.id if no_trunc else im.short_id, human_age(im.created), human_size(im.size)]
                                for r, t, d, im in rows])

    formatting.render(fmt, [image_row(r, t, d, im, no_trunc) for r, t, d, im in rows], table)


def image_row(repo: str, tag: str, digest: str, image: Image, no_trunc: bool = False) -> dict:
    """A row of `docker image ls` (its `--format json` fields and value formats)."""
    from stackup.cli.shapes import created_at

    return {"Containers": "N/A", "CreatedAt": created_at(image.created),
            "CreatedSince": human_age(image.created), "Digest": digest,
            "ID": image.id if no_trunc else image.short_id, "Repository": repo, "SharedSize": "N/A",
            "Size": human_size(image.size), "Tag": tag, "UniqueSize": "N/A",
            "VirtualSize": human_size(image.size, 4)}


def _split(name: str) -> tuple[str, str]:
    ref = parse_reference(name)
    return ref.familiar().rsplit(":", 1)[0] if ref.tag else ref.familiar(), ref.tag or "<none>"


def _familiar_digest(repo_digest: str) -> str:
    """name@digest in the familiar form (busybox@sha256:...)."""
    return parse_reference(repo_digest).familiar() if "@" in repo_digest else repo_digest


def docker_config(config: dict | None) -> dict:
    """An image's config as Docker shows it: every key of Go's container.Config, in its
    order, with its zero value where the image has none."""
    config = config or {}
    out: dict = {"Hostname": "", "Domainname": "", "User": config.get("User", ""), "AttachStdin": False,
                 "AttachStdout": False, "AttachStderr": False}
    if config.get("ExposedPorts"):
        out["ExposedPorts"] = config["ExposedPorts"]
    out.update({"Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": config.get("Env"),
                "Cmd": config.get("Cmd")})
    for key in ("Healthcheck", "ArgsEscaped"):
        if key in config:
            out[key] = config[key]
    out.update({"Image": "", "Volumes": config.get("Volumes"), "WorkingDir": config.get("WorkingDir", ""),
                "Entrypoint": config.get("Entrypoint"), "OnBuild": config.get("OnBuild"),
                "Labels": config.get("Labels")})
    for key in ("StopSignal", "Shell"):
        if key in config:
            out[key] = config[key]
    return out


def inspect_document(store: ImageStore, image: Image) -> dict:
    """`docker image inspect`'s document (plus stackup's Manifest and LayerDirs)."""
    from stackup.cli.shapes import go_time

    doc = store.config_document(image)
    out = {
        # as Docker shows them: docker.io names in their familiar form (busybox:latest)
        "Id": image.id, "RepoTags": [parse_reference(r).familiar() for r in image.references],
        "RepoDigests": [_familiar_digest(d) for d in image.repo_digests],
        "Parent": "", "Comment": doc.get("comment", ""), "Created": go_time(image.created), "Container": "",
        "ContainerConfig": docker_config(None), "DockerVersion": doc.get("docker_version", ""),
        "Author": doc.get("author", ""), "Config": docker_config(doc.get("config")),
        "Architecture": image.architecture,
    }
    if doc.get("variant"):
        out["Variant"] = doc["variant"]
    out.update({
        "Os": image.os, "Size": image.size, "VirtualSize": image.size,
        "GraphDriver": {"Data": None, "Name": "overlay"},
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Manifest": {"Digest": image.manifest_digest, "MediaType": image.manifest_media_type},
        "LayerDirs": [str(p) for p in image.layer_dirs()],
        "History": doc.get("history", []),
    })
    return out


@group.command("inspect")
def inspect(images: list[str] = typer.Argument(..., metavar="IMAGE..."),
            format_: str = typer.Option(None, "-f", "--format", help="A Go template, or json")) -> None:
    """Show details of one or more images (JSON, or a Go template)."""
    from stackup.cli import formatting, gotemplate

    if format_ and format_.strip() != "json":
        gotemplate.parse(format_)
    store = _store()
    found, problems = [], []
    for ref in images:
        try:
            found.append(inspect_document(store, store.resolve(ref)))
        except UserError as exc:
            problems.extend(exc.lines())
    formatting.inspect(format_, found)
    if problems:
        raise UserError(problems[0], problems=problems)


@group.command("tag")
def tag(source: str = typer.Argument(..., metavar="SOURCE_IMAGE[:TAG]"),
        target: str = typer.Argument(..., metavar="TARGET_IMAGE[:TAG]")) -> None:
    """Give an image another name."""
    _store().tag(source, target)


@group.command("rm")
def rm(images: list[str] = typer.Argument(..., metavar="IMAGE..."),
       force: bool = typer.Option(False, "-f", "--force", help="Remove even if named twice or in use")) -> None:
    """Remove one or more images (their layers go when no image uses them)."""
    store = _store()
    in_use = _in_use()
    problems = []
    for ref in images:
        try:
            for line in store.rm(ref, force=force, in_use=in_use):
                print(line)
        except UserError as exc:
            problems.extend(exc.lines())
    if problems:
        raise UserError(problems[0], problems=problems)


@group.command("prune")
def prune(all_: bool = typer.Option(False, "-a", "--all",
                                   help="Remove all unused images, not just dangling ones"),
          force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation")) -> None:
    """Remove unused images."""
    if not force and sys.stdin.isatty():
        what = "all images without at least one container associated to them" if all_ else "all dangling images"
        if not typer.confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?"):
            return
    lines, freed = _store().prune(all_images=all_, in_use=_in_use())
    if lines:
        print("Deleted Images:")
        print("\n".join(lines))
        print()
    print(f"Total reclaimed space: {human_size(freed)}")


@group.command("pull")
def pull(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME[:TAG|@DIGEST]"),
    platform: str = typer.Option(None, "--platform", help="os/arch[/variant] (default: this host's)"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Suppress progress output"),
) -> None:
    """Pull an image from a registry."""
    from stackup.engine.images import platform as plat
    from stackup.engine.images.progress import for_mode
    from stackup.engine.images.pull import pull as do_pull

    with for_mode("quiet" if quiet else _progress_mode(ctx)) as progress:
        image = do_pull(_store(), name, platform=plat.parse(platform) if platform else None, progress=progress)
    print(parse_reference(name).familiar() if not quiet else image.id)


@group.command("bootstrap")
def bootstrap(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="debian:SUITE[-slim]"),
    mirror: str = typer.Option(None, "--mirror", metavar="URL",
                               help="Debian mirror (default: the one this host's apt uses)"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Suppress progress output"),
) -> None:
    """Make a Debian base image here (mmdebstrap minbase from the host's Debian mirror)."""
    from stackup.engine.images.bootstrap import bootstrap as do_bootstrap
    from stackup.engine.images.progress import for_mode

    with for_mode("quiet" if quiet else _progress_mode(ctx)) as progress:
        image = do_bootstrap(_store(), name, mirror=mirror, progress=progress)
    print(parse_reference(image.references[0]).familiar() if not quiet else image.id)


@group.command("push")
def push(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME[:TAG]"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Suppress progress output"),
) -> None:
    """Push an image to the registry its name points at."""
    from stackup.engine.images.progress import for_mode
    from stackup.engine.images.push import push as do_push

    with for_mode("quiet" if quiet else _progress_mode(ctx)) as progress:
        digest = do_push(_store(), name, progress=progress)
    print(f"{parse_reference(name).familiar()}@{digest}" if not quiet else digest)


@group.command("load")
def load(
    input_: str = typer.Option(None, "-i", "--input", help="Read from a tar archive file instead of stdin"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Suppress the load output"),
) -> None:
    """Load images from a docker save or OCI layout archive."""
    import shutil
    import tempfile

    from stackup.engine.images.archive import load as do_load

    store = _store()
    if input_ is None:
        if sys.stdin.isatty():
            raise UserError("requested load from stdin, but stdin is empty (use -i FILE)")
        with tempfile.NamedTemporaryFile(prefix="stackup-load-") as tmp:
            shutil.copyfileobj(sys.stdin.buffer, tmp)
            tmp.flush()
            loaded = do_load(store, Path(tmp.name))
    else:
        loaded = do_load(store, Path(input_))
    if not quiet:
        for item in loaded:
            if item.names:
                for n in item.names:
                    print(f"Loaded image: {parse_reference(n).familiar()}")
            else:
                print(f"Loaded image ID: {item.image.id}")


@group.command("save")
def save(
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    output: str = typer.Option(None, "-o", "--output", help="Write to a file instead of stdout"),
) -> None:
    """Save images to a tar archive (docker save and OCI layout at once)."""
    import os

    from stackup.engine.images.archive import save as do_save

    store = _store()
    for ref in images:
        store.resolve(ref)  # fail before writing anything
    if output is None:
        if sys.stdout.isatty():
            raise UserError("cowardly refusing to write an archive to a terminal (use -o FILE or redirect)")
        do_save(store, images, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    tmp = f"{output}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as out:
            do_save(store, images, out)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@group.command("build")
def build(
    ctx: typer.Context,
    context: str = typer.Argument(..., metavar="CONTEXT", help="The build context: a folder"),
    tag: list[str] = typer.Option([], "-t", "--tag", help="Name and optionally a tag (NAME[:TAG]), repeatable"),
    file: str = typer.Option(None, "-f", "--file", help="The Dockerfile (default: CONTEXT/Dockerfile; '-' for stdin)"),
    target: str = typer.Option("", "--target", help="The build stage to build"),
    build_arg: list[str] = typer.Option([], "--build-arg", help="Set a build-time variable NAME[=VALUE]"),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the cache when building"),
    pull: bool = typer.Option(False, "--pull", help="Always pull a newer version of the base images"),
    label: list[str] = typer.Option([], "--label", help="Set a label on the image KEY=VALUE"),
    network: str = typer.Option("default", "--network", help="The network of RUN steps: default, none or host"),
    add_host: list[str] = typer.Option([], "--add-host", help="Add a host-to-IP mapping (host:ip)"),
    secret: list[str] = typer.Option([], "--secret", help="A secret file for RUN --mount=type=secret: id=ID,src=PATH"),
    platform: str = typer.Option(None, "--platform", help="This machine's platform (no other is built)"),
    progress: str = typer.Option(None, "--progress", help="auto, tty, plain or quiet"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress; print the image ID"),
    iidfile: str = typer.Option(None, "--iidfile", help="Write the image ID to the file"),
) -> None:
    """Build an image from a Dockerfile, as `docker build` does."""
    from stackup.cli.build import parse_build_args, progress_mode
    from stackup.cli.build_progress import make_view
    from stackup.cli.image_build import build_options, run_build

    options = build_options(
        context, tags=tag, file=file, target=target, args=parse_build_args(build_arg), no_cache=no_cache,
        pull=pull, labels=label, network=network, add_hosts=add_host, secrets=secret, platform=platform)
    view = make_view(progress_mode(ctx, quiet, progress))
    try:
        image = run_build(options, view)
    finally:
        view.close()
    if iidfile:
        Path(iidfile).write_text(image.id)
    if quiet:
        print(image.id)
