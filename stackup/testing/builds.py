"""Build the same Dockerfile with Docker's own builder and with stackup's, and compare.

A case is a folder: its Dockerfile and context files, and an optional `case.json`:

    {"doc": "what the case covers",
     "dockerfile": "Dockerfile",                 # relative to the context
     "target": "", "build_args": {"K": "V"}, "labels": {"K": "V"},
     "secrets": {"tok": "token.txt"},             # id -> a file of the case folder
     "prepare": [["mkdir", "empty"], ["hardlink", "a", "b"], ["chmod", "0700", "x"],
                 ["symlink", "target", "link"], ["write", "path", "text"],
                 ["tar", "out.tar.gz", "folder", "uid:gid"]],
     "before": [{"dockerfile": "base.Dockerfile", "tag": "stackup.local/base:1"}],
     "expect": {"tree": {"path": {"type": "file", "mode": "0644", "uid": 0, "gid": 0,
                                  "content": "text", "link": "..."} | null},
                "config": {"Cmd": ["sh"]}}}

`prepare` makes what git cannot hold (empty folders, hard links, modes, tars) in the copy
of the context both builders get; `case.json`, the secrets' files and the `prepare`
sources stay out of it. `before` builds are made first (with their tag) by the same
builder, for a case whose FROM names an image built from a Dockerfile (ONBUILD). The
results are compared as flattened trees (stackup.testing.trees.flatten_layers) and the
config fields in CONFIG_KEYS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackup.testing.trees import Entry, flatten_layers, tree_differences

if TYPE_CHECKING:
    from stackup.engine.images.store import Image, ImageStore
    from stackup.testing.peers import Peer

# The image config settings a Dockerfile sets (Author: MAINTAINER, at the config's top).
CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
               "Volumes", "Healthcheck", "StopSignal", "OnBuild", "Shell", "Author")


@dataclass
class Case:
    name: str
    folder: Path
    doc: str = ""
    dockerfile: str = "Dockerfile"
    target: str = ""
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    prepare: list[list[str]] = field(default_factory=list)
    before: list[dict[str, str]] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)
    # Empty folders Debian's BuildKit (v0.8, in docker.io 20.10) leaves where a RUN mounted
    # something the image lacked. BuildKit since v0.10 removes these mount stubs (its
    # MountStubsCleaner), and so does stackup: the one difference a case may name.
    mount_stubs: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> Case:
        spec = folder / "case.json"
        fields = json.loads(spec.read_text()) if spec.exists() else {}
        return cls(name=folder.name, folder=folder, **fields)

    def outside_context(self) -> set[str]:
        """The case folder's files that are not part of the build context."""
        out = {"case.json", *self.secrets.values()}
        out |= {step[2] for step in self.prepare if step[0] == "tar"}
        return out

    def secret_files(self) -> dict[str, Path]:
        return {sid: self.folder / path for sid, path in self.secrets.items()}


def load_cases(folder: Path) -> list[Case]:
    return [Case.load(p) for p in sorted(folder.iterdir()) if (p / "Dockerfile").exists()]


@dataclass
class Built:
    """What a builder made, in comparable form."""

    tree: dict[str, Entry]
    config: dict[str, Any]


# --- the context both builders get -------------------------------------------------------

def make_context(case: Case, dest: Path) -> Path:
    """A copy of the case's context in `dest`, with its `prepare` steps applied."""
    skip = case.outside_context()
    shutil.copytree(case.folder, dest, symlinks=True,
                    ignore=lambda d, names: [n for n in names
                                             if os.path.relpath(Path(d) / n, case.folder) in skip])
    for step in case.prepare:
        _prepare(case, dest, step)
    return dest


def _prepare(case: Case, ctx: Path, step: list[str]) -> None:
    op, *args = step
    if op == "mkdir":
        (ctx / args[0]).mkdir(parents=True, exist_ok=True)
    elif op == "write":
        (ctx / args[0]).parent.mkdir(parents=True, exist_ok=True)
        (ctx / args[0]).write_text(args[1])
    elif op == "chmod":
        os.chmod(ctx / args[1], int(args[0], 8), follow_symlinks=False)
    elif op == "chown":
        uid, gid = (int(x) for x in args[0].split(":"))
        os.lchown(ctx / args[1], uid, gid)
    elif op == "hardlink":
        os.link(ctx / args[0], ctx / args[1])
    elif op == "symlink":
        os.symlink(args[0], ctx / args[1])
    elif op == "tar":
        _make_tar(case.folder / args[1], ctx / args[0], args[2] if len(args) > 2 else "0:0")
    else:
        raise ValueError(f"{case.name}/case.json: unknown prepare step {op!r}")


def _make_tar(src: Path, out: Path, owner: str) -> None:
    """`src`'s contents as a tar (compressed by `out`'s suffix), every entry owned by
    `owner`, folders 0755 and files 0644 unless executable in git (0755)."""
    uid, gid = (int(x) for x in owner.split(":"))
    suffix = out.name.rsplit(".", 1)[-1]
    mode = {"gz": "w:gz", "tgz": "w:gz", "bz2": "w:bz2", "xz": "w:xz"}.get(suffix, "w")

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        info.mtime = 1_600_000_000
        if not info.issym():
            info.mode = 0o755 if info.isdir() or info.mode & 0o100 else 0o644
        return info

    with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for child in sorted(src.rglob("*")):
            tar.add(child, arcname=str(child.relative_to(src)), recursive=False, filter=owned)


# --- configs ----------------------------------------------------------------------------

def comparable_config(doc: dict[str, Any]) -> dict[str, Any]:
    """CONFIG_KEYS of an image config document; empty maps, lists of ONBUILD and strings
    read as unset (Docker writes null where others leave the key out), a CMD or
    ENTRYPOINT of [] stays [] (it differs from unset)."""
    config = doc.get("config") or {}
    out = {}
    for key in CONFIG_KEYS:
        value = doc.get("author") if key == "Author" else config.get(key)
        if value in ({}, "") or (key in ("OnBuild", "Env", "Shell") and value == []):
            value = None
        out[key] = value
    return out


def config_differences(left: dict[str, Any], right: dict[str, Any],
                       names: tuple[str, str] = ("left", "right")) -> list[str]:
    return [f"{key}: {names[0]}: {json.dumps(left.get(key))}; {names[1]}: {json.dumps(right.get(key))}"
            for key in CONFIG_KEYS if left.get(key) != right.get(key)]


def differences(docker: Built, stackup: Built, mount_stubs: list[str] | None = None) -> list[str]:
    """What differs; a mount stub the case names counts only if it is not an empty folder
    in Docker's build, absent in stackup's."""
    names = ("docker", "stackup")
    tree = dict(docker.tree)
    for stub in mount_stubs or []:
        entry = tree.get(stub.lstrip("/"))
        inside = [p for p in tree if p.startswith(stub.lstrip("/") + "/")]
        empty = entry is not None and (entry.type == "dir" and not inside
                                       or entry.type == "file" and entry.size == 0)
        if empty and stub.lstrip("/") not in stackup.tree:
            del tree[stub.lstrip("/")]
    return config_differences(docker.config, stackup.config, names) + tree_differences(
        tree, stackup.tree, names)


# --- what a case expects -----------------------------------------------------------------

def unmet_expectations(case: Case, built: Built) -> list[str]:
    """The lines of the case's `expect` that `built` does not meet."""
    import hashlib

    problems = []
    for path, want in case.expect.get("tree", {}).items():
        got = built.tree.get(path.lstrip("/"))
        if want is None:
            if got is not None:
                problems.append(f"{path}: expected absent, is {got.describe()}")
            continue
        if got is None:
            problems.append(f"{path}: expected {want}, is absent")
            continue
        for key, value in want.items():
            if key == "content":
                ok = got.sha256 == hashlib.sha256(value.encode()).hexdigest()
            elif key == "mode":
                ok = got.mode == int(value, 8)
            else:
                ok = getattr(got, key) == value
            if not ok:
                problems.append(f"{path}: expected {key}={value!r}, is {got.describe()}")
    for key, value in case.expect.get("config", {}).items():
        if built.config.get(key) != value:
            problems.append(f"config {key}: expected {json.dumps(value)}, is {json.dumps(built.config.get(key))}")
    return problems


# --- Docker's side ------------------------------------------------------------------------

def docker_import(peer: Peer, rootfs_tar: Path, ref: str, changes: tuple[str, ...]) -> None:
    """`docker import` with the same changes stackup's import gets."""
    args = [x for change in changes for x in ("-c", change)]
    peer.run("import", *args, str(rootfs_tar), ref, timeout=300)


def docker_build_argv(case: Case, context: Path, tag: str, dockerfile: str | None = None,
                      target: str | None = None) -> list[str]:
    """The `docker build` arguments for a case (BuildKit: DOCKER_BUILDKIT=1 in the env)."""
    argv = ["build", "--progress=plain", "-t", tag, "-f", str(context / (dockerfile or case.dockerfile))]
    chosen = case.target if target is None else target
    if chosen:
        argv += ["--target", chosen]
    for key, value in case.build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in case.labels.items():
        argv += ["--label", f"{key}={value}"]
    for sid, path in case.secret_files().items():
        argv += ["--secret", f"id={sid},src={path}"]
    return [*argv, str(context)]


def docker_buildkit(peer: Peer, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`DOCKER_BUILDKIT=1 docker ARGV` on `peer`; the caller checks the exit code."""
    env = dict(peer.env, DOCKER_BUILDKIT="1")
    return subprocess.run(peer.command(*argv), env=env, capture_output=True, text=True,
                          timeout=timeout)


def docker_build_case(peer: Peer, case: Case, context: Path, tag: str) -> Built:
    """The case's `before` builds, then the case, by Docker; its image in comparable form."""
    for before in case.before:
        argv = docker_build_argv(case, context, before["tag"], before["dockerfile"], target="")
        _check(docker_buildkit(peer, argv), case, before["dockerfile"])
    _check(docker_buildkit(peer, docker_build_argv(case, context, tag)), case, case.dockerfile)
    return docker_image(peer, tag, context.parent / f"{case.name}.docker.tar")


def _check(proc: subprocess.CompletedProcess[str], case: Case, dockerfile: str) -> None:
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise AssertionError(f"docker build of {case.name}/{dockerfile} failed "
                             f"({proc.returncode}):\n{tail}")


def docker_image(peer: Peer, tag: str, archive: Path) -> Built:
    """`docker save` the image and flatten its layers."""
    peer.save(tag, archive)
    try:
        with tarfile.open(archive) as outer:
            manifest = json.load(_member(outer, "manifest.json"))[0]
            config = json.load(_member(outer, manifest["Config"]))

            def layers() -> Iterator[Any]:
                for name in manifest["Layers"]:
                    yield _member(outer, name)

            return Built(flatten_layers(layers()), comparable_config(config))
    finally:
        archive.unlink(missing_ok=True)


def _member(tar: tarfile.TarFile, name: str) -> Any:
    found = tar.extractfile(name)
    if found is None:
        raise ValueError(f"docker save archive: {name} is not a file")
    return found


# --- stackup's side -----------------------------------------------------------------------

def stackup_image(store: ImageStore, image: Image) -> Built:
    """The image's stored layer blobs, flattened, and its config."""
    from stackup.engine.images.compression import open_uncompressed

    def layers() -> Iterator[Any]:
        for layer in store.manifest(image)["layers"]:
            with store.blobs.open(layer["digest"]) as raw:
                reader = open_uncompressed(raw, what=layer["digest"])
                try:
                    yield reader
                finally:
                    reader.close()

    return Built(flatten_layers(layers()), comparable_config(store.config_document(image)))


def stackup_build_case(case: Case, context: Path, tag: str,
                       build: Callable[..., Image] | None = None) -> Image:
    """The case's `before` builds, then the case, by stackup's builder (in the store of
    $STACKUP_ROOT). `build` defaults to stackup.engine.build.build."""
    from stackup.engine.build.model import BuildOptions

    if build is None:
        from stackup.engine.build import build as default

        build = default
    run: Callable[..., Image] = build
    for before in case.before:
        run(BuildOptions(context=context, dockerfile=context / before["dockerfile"],
                           build_args=dict(case.build_args), tags=[before["tag"]],
                           secrets=case.secret_files()))
    return run(BuildOptions(context=context, dockerfile=context / case.dockerfile,
                            target=case.target, build_args=dict(case.build_args),
                            labels=dict(case.labels), tags=[tag], secrets=case.secret_files()))


def mounts_under(folder: Path) -> list[str]:
    """Mount points at or under `folder` (a build must leave none)."""
    prefix = str(folder).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        targets = [line.split()[4] for line in f]
    return [t for t in targets if t == prefix[:-1] or t.startswith(prefix)]
