"""Compose's `build:` mapped onto the engine's builder.

`service_build` turns one service's normalized `build:` section (the short form is a
context) into a `ServiceBuild`: the engine's `BuildOptions` plus what can only be
settled when the build runs (the image id of a `service:NAME` context, the value of
an environment secret). It is pure: `up --dry-run` and the plan use it to refuse, by
name, what stackup cannot honour before anything is built. `resolved` makes the
final `BuildOptions` right before `build()`, and `secret_files` writes environment
secrets to private files removed after the build.

As compose: the image is named by `image:` else `<project>-<service>`, and `tags:`
are added; a value-less `args` entry takes the environment's value (dropped when the
environment has none); `cache_from`/`cache_to` are named in a warning (stackup keeps
its own cache); a platform other than this machine's, git or archive URL contexts,
`ssh`, `privileged`, an `isolation` other than default are refused by name.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stackup.engine.build.model import BuildOptions, StepEvent, StepOutput
from stackup.errors import NotFoundError, StackupError, UnsupportedError, UserError
from stackup.project import naming
from stackup.stackfile.support import is_url

SERVICE_CONTEXT = "service:"
IMAGE_CONTEXT = "docker-image://"
NETWORKS = ("default", "none", "host")


@dataclass(frozen=True)
class BuildFlags:
    """What `stackup build`'s flags add to every service's build."""

    no_cache: bool = False
    pull: bool = False
    args: Mapping[str, str | None] = field(default_factory=dict)   # --build-arg; None: the environment's


@dataclass(frozen=True)
class ServiceBuild:
    """One service's build, checked and mapped (paths absolute).

    `options.build_args` may hold None (a value-less arg: the environment's value,
    taken by `resolved`); `options.additional_contexts` holds the folders and
    docker-image:// contexts, `service_contexts` the `service:NAME` ones (name ->
    the image reference that service builds); `options.secrets` the file secrets,
    `env_secrets` (id -> variable) the environment ones.
    """

    service: str
    image: str
    options: BuildOptions
    service_contexts: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name -> (service, image)
    env_secrets: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def depends_on(self) -> list[str]:
        """The services whose image this build needs first (its `service:` contexts)."""
        return sorted({service for service, _ in self.service_contexts.values()})


def build_section(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The service's `build:` in its long form (the short form is the context), or None."""
    build = config.get("build")
    if not build:
        return None
    if isinstance(build, str):
        return {"context": build}
    return dict(build)


def service_build(project: str, service: str, config: Mapping[str, Any], *,
                  services: Mapping[str, Any] | None = None, secrets: Mapping[str, Any] | None = None,
                  project_dir: str | Path = ".", flags: BuildFlags = BuildFlags()) -> ServiceBuild:
    """Map `services.<service>.build` (of `config`) onto the builder's options; raise
    UserError/UnsupportedError naming the attribute when it cannot be honoured."""
    where = f"services.{service}.build"
    build = build_section(config)
    if build is None:
        raise UserError(f"services.{service}: the service has no build section")
    base = Path(project_dir)
    image = naming.service_image(project, service, config)
    warnings: list[str] = []
    context = str(build.get("context") or ".")
    if is_url(context):
        raise UnsupportedError(f"{where}.context ({context}): a git or archive URL context is not "
                               "supported by stackup; clone or unpack it and give the folder")
    context_path = _path(base, context)
    dockerfile_inline = build.get("dockerfile_inline")
    dockerfile = None
    if dockerfile_inline is None:
        dockerfile = _path(context_path, str(build.get("dockerfile") or "Dockerfile"))
    args = _mapping(build.get("args"), f"{where}.args")
    args.update(flags.args)
    options = BuildOptions(
        context=context_path,
        dockerfile=dockerfile,
        dockerfile_inline=None if dockerfile_inline is None else str(dockerfile_inline),
        target=str(build.get("target") or ""),
        build_args=args,  # type: ignore[arg-type]  # None values are resolved before build()
        labels={k: str(v or "") for k, v in _mapping(build.get("labels"), f"{where}.labels").items()},
        tags=_unique([image] + [str(t) for t in build.get("tags") or []]),
        no_cache=flags.no_cache or _bool(build.get("no_cache")),
        pull=flags.pull or _bool(build.get("pull")),
        network=_network(build.get("network"), where),
        extra_hosts=_extra_hosts(build.get("extra_hosts")),
        shm_size=_shm_size(build.get("shm_size"), where),
        platform=_platform(build.get("platforms"), where),
        name=service,
    )
    contexts, service_contexts = _additional_contexts(project, build.get("additional_contexts"), base,
                                                       services, where)
    options.additional_contexts = contexts
    options.secrets, env_secrets, secret_warnings = _secrets(build.get("secrets"), secrets or {}, base, where)
    warnings += secret_warnings
    for key in ("cache_from", "cache_to"):
        if build.get(key):
            warnings.append(f"{where}.{key} is not honoured by stackup (it keeps its own build cache)")
    _refuse(build, where)
    return ServiceBuild(service, image, options, service_contexts, env_secrets, tuple(warnings))


def _refuse(build: Mapping[str, Any], where: str) -> None:
    """What the builder cannot do, named (support.py refuses these too, before `up`
    starts; this keeps `stackup build` and direct callers as strict)."""
    if build.get("ssh"):
        raise UnsupportedError(f"{where}.ssh is not supported by stackup (no SSH agent forwarding in builds)")
    if _bool(build.get("privileged")):
        raise UnsupportedError(f"{where}.privileged is not supported by stackup (RUN steps run with the "
                               "default security profile)")
    isolation = build.get("isolation")
    if isolation not in (None, "", "default"):
        raise UnsupportedError(f"{where}.isolation ({isolation}) is not supported by stackup")
    for key in ("entitlements", "ulimits", "no_cache_filter"):
        if build.get(key):
            raise UnsupportedError(f"{where}.{key} is not supported by stackup")
    for key in ("provenance", "sbom"):
        if build.get(key) not in (None, False, "false", "False", ""):
            raise UnsupportedError(f"{where}.{key} is not supported by stackup (no attestations)")


def _path(base: Path, text: str) -> Path:
    path = Path(os.path.expanduser(text))
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _mapping(value: Any, where: str) -> dict[str, str | None]:
    """A compose list-or-dict (`[K=V, K]` or `{K: V}`) as a dict; a value-less entry is None."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k): None if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        result: dict[str, str | None] = {}
        for item in value:
            key, sep, text = str(item).partition("=")
            if not key:
                raise UserError(f"{where}: {item!r} has no name")
            result[key] = text if sep else None
        return result
    raise UserError(f"{where}: expected a list or a mapping")


def _network(value: Any, where: str) -> str:
    network = str(value or "default")
    if network not in NETWORKS:
        raise UnsupportedError(f"{where}.network ({network}): stackup builds on default, none or host "
                               "(a stack network cannot be used while building)")
    return network


def _extra_hosts(value: Any) -> list[str]:
    """`name=address` entries (compose's canonical form) from a list or a mapping."""
    if not value:
        return []
    if isinstance(value, Mapping):
        return [f"{name}={address}" for name, values in value.items()
                for address in (values if isinstance(values, list) else [values])]
    return [str(item) for item in value]


def _shm_size(value: Any, where: str) -> int:
    if value in (None, ""):
        return 0
    from stackup.units import parse_bytes

    return parse_bytes(value, f"{where}.shm_size")


def _platform(value: Any, where: str) -> str:
    """The native platform when `platforms` names only it; any other one is refused."""
    if not value:
        return ""
    from stackup.engine.images import platform

    native = platform.host()
    foreign = []
    for text in value:
        try:
            wanted = platform.parse(str(text))
        except UserError:
            raise UserError(f"{where}.platforms: invalid platform {text!r} (expected os/arch[/variant])") from None
        if not native.matches({"os": wanted.os, "architecture": wanted.architecture, "variant": wanted.variant}):
            foreign.append(str(text))
    if foreign:
        raise UnsupportedError(f"{where}.platforms ({', '.join(foreign)}): stackup builds for this machine's "
                               f"platform only ({native})")
    return str(native)


def _additional_contexts(project: str, value: Any, base: Path, services: Mapping[str, Any] | None,
                         where: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """(folders and docker-image:// contexts, service:NAME contexts as (service, image))."""
    contexts: dict[str, str] = {}
    by_service: dict[str, tuple[str, str]] = {}
    for name, target in _mapping(value, f"{where}.additional_contexts").items():
        here = f"{where}.additional_contexts.{name}"
        if not target:
            raise UserError(f"{here}: no context given")
        if target.startswith(SERVICE_CONTEXT):
            other = target[len(SERVICE_CONTEXT):]
            if services is not None and other not in services:
                raise NotFoundError(f"{here}: no such service: {other}")
            other_config = (services or {}).get(other) or {}
            by_service[name] = (other, naming.service_image(project, other, other_config))
        elif target.startswith(IMAGE_CONTEXT):
            contexts[name] = target
        elif "://" in target or is_url(target):
            raise UnsupportedError(f"{here} ({target}): only folders, docker-image:// and service: contexts "
                                   "are supported by stackup")
        else:
            contexts[name] = str(_path(base, target))
    return contexts, by_service


def _secrets(value: Any, declared: Mapping[str, Any], base: Path,
             where: str) -> tuple[dict[str, Path], dict[str, str], list[str]]:
    """(file secrets id -> path, environment secrets id -> variable, warnings), by the
    top-level `secrets:` they name; the id is the `target` if given, as compose does."""
    files: dict[str, Path] = {}
    env: dict[str, str] = {}
    warnings: list[str] = []
    for i, item in enumerate(value or []):
        entry = {"source": item} if isinstance(item, str) else dict(item)
        source = str(entry.get("source") or "")
        here = f"{where}.secrets[{i}]"
        if source not in declared:
            raise NotFoundError(f"{here}: secret {source!r} is not declared in the top-level secrets")
        secret_id = str(entry.get("target") or source)
        spec = declared[source] or {}
        if spec.get("file"):
            files[secret_id] = _path(base, str(spec["file"]))
        elif spec.get("environment"):
            env[secret_id] = str(spec["environment"])
        else:
            raise UnsupportedError(f"{here}: secret {source!r} is neither a file nor an environment secret "
                                   "(a build reads only those)")
        if any(entry.get(k) is not None for k in ("uid", "gid", "mode")):
            warnings.append(f"{here}: uid, gid and mode are not honoured for build secrets (as compose)")
    return files, env, warnings


def resolved(spec: ServiceBuild, environ: Mapping[str, str], image_ids: Mapping[str, str]) -> BuildOptions:
    """The options `build()` gets: value-less args from `environ` (dropped when unset),
    `service:NAME` contexts as docker-image://<the id of NAME's image> (`image_ids`:
    image reference -> id)."""
    args: dict[str, str] = {}
    for key, value in spec.options.build_args.items():
        if value is None:
            if key in environ:
                args[key] = environ[key]
        else:
            args[key] = value
    contexts = dict(spec.options.additional_contexts)
    for name, (service, image) in spec.service_contexts.items():
        image_id = image_ids.get(image)
        if image_id is None:
            raise NotFoundError(f"services.{spec.service}.build.additional_contexts.{name}: the image of "
                                f"service {service} ({image}) is not present; build it first")
        contexts[name] = IMAGE_CONTEXT + image_id
    return replace(spec.options, build_args=args, additional_contexts=contexts,
                   secrets=dict(spec.options.secrets), tags=list(spec.options.tags))


@contextlib.contextmanager
def secret_files(spec: ServiceBuild, environ: Mapping[str, str], options: BuildOptions) -> Iterator[BuildOptions]:
    """`options` with the environment secrets written to private files (mode 0600 in a
    0700 folder), which are removed when the block ends, whatever happens."""
    if not spec.env_secrets:
        yield options
        return
    import tempfile  # only here: `up` without secrets must not load it

    with tempfile.TemporaryDirectory(prefix="stackup-build-secrets-") as folder:
        secrets = dict(options.secrets)
        for secret_id, variable in sorted(spec.env_secrets.items()):
            if variable not in environ:
                raise UserError(f"services.{spec.service}.build.secrets: secret {secret_id!r} reads the "
                                f"environment variable {variable}, which is not set")
            path = Path(folder) / f"secret-{len(secrets)}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(environ[variable])
            secrets[secret_id] = path
        yield replace(options, secrets=secrets)


class BuildFailed(StackupError):
    """A build that failed (exit code 1): the builder's message, as BuildKit words it
    (`failed to solve: ...`), and the failing step's last output lines in `tail`."""

    def __init__(self, message: str, tail: list[str], step: str = ""):
        if not message.startswith("failed to solve"):
            message = f"failed to solve: {message}"
        lines = [message] + ([f" > {step}:"] if step and tail else []) + [f"   {line}" for line in tail]
        super().__init__(message, problems=lines)
        self.tail = tail


class StepTail:
    """Follows a build's progress to keep the last output lines of each step, so that
    a failure can show the failing step's (`tail`)."""

    LINES = 10

    def __init__(self) -> None:
        self.lines: dict[int, list[str]] = {}
        self.failed: int | None = None
        self.step = ""   # the failed step's title
        self.lock = threading.Lock()

    def __call__(self, event: StepEvent | StepOutput) -> None:
        with self.lock:
            if isinstance(event, StepOutput):
                kept = self.lines.setdefault(event.vertex, [])
                kept.append(event.text)
                del kept[:-self.LINES]
            elif event.status == "error" and self.failed is None:
                self.failed, self.step = event.vertex, event.title

    def failure(self, error: BaseException) -> BuildFailed:
        """The build's failure, with the failing step's last lines."""
        return BuildFailed(str(error), self.tail(), self.step)

    def tail(self) -> list[str]:
        with self.lock:
            return list(self.lines.get(self.failed, [])) if self.failed is not None else []
