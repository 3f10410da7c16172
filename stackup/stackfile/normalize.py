"""The merged model made whole, as compose normalizes it before printing.

The default network, resource names (`<project>_<key>`), implicit dependencies
(links, volumes_from, network_mode/ipc/pid: service:x), environment from env_file,
labels from label_file, profiles, and top-level resources no service uses dropped.
"""

from __future__ import annotations

import os
from typing import Any

from stackup.stackfile import envfile, textfile
from stackup.stackfile.interpolation import MAX_GROWTH, TooLarge, too_large
from stackup.stackfile.problems import Problems

SERVICE_PREFIX = "service:"
CONTAINER_PREFIX = "container:"


def normalize(model: dict, environ: dict[str, str]) -> dict:
    _normalize_networks(model)
    services = model.get("services") or {}
    for service in services.values():
        if not isinstance(service, dict):
            continue
        if service.get("pull_policy") == "if_not_present":
            service["pull_policy"] = "missing"
        build = service.get("build")
        if isinstance(build, dict):
            if build.get("context") is None:
                build["context"] = "."
            if build.get("dockerfile") is None and build.get("dockerfile_inline") is None:
                build["dockerfile"] = "Dockerfile"
            if "args" in build:
                build["args"] = _resolve(build["args"], environ, keep_empty=False)
        if "environment" in service:
            service["environment"] = _resolve(service["environment"], environ, keep_empty=True)
        depends_on = service.get("depends_on")
        if not isinstance(depends_on, dict):
            depends_on = {}
        for link in service.get("links") or []:
            parts = str(link).split(":")
            target = parts[0] if len(parts) == 2 else str(link)
            depends_on.setdefault(target, {"condition": "service_started", "restart": True, "required": True})
        for namespace in ("network_mode", "ipc", "pid", "uts", "cgroup"):
            ref = service.get(namespace)
            if isinstance(ref, str) and ref.startswith(SERVICE_PREFIX):
                depends_on.setdefault(ref[len(SERVICE_PREFIX):],
                                      {"condition": "service_started", "restart": True, "required": True})
        for volume in service.get("volumes") or []:
            if isinstance(volume, dict) and isinstance(volume.get("target"), str) and volume["target"]:
                volume["target"] = os.path.normpath(volume["target"]).replace("//", "/")
        for source in service.get("volumes_from") or []:
            source = str(source)
            if not source.startswith(CONTAINER_PREFIX):
                depends_on.setdefault(source.split(":")[0],
                                      {"condition": "service_started", "restart": False, "required": True})
        if depends_on:
            service["depends_on"] = depends_on
    _set_names(model)
    return model


def _normalize_networks(model: dict) -> None:
    networks = model.get("networks")
    if not isinstance(networks, dict):
        networks = {}
    uses_default = False
    for service in (model.get("services") or {}).values():
        if not isinstance(service, dict) or "provider" in service or "network_mode" in service:
            continue
        nets = service.get("networks")
        if not nets:
            service["networks"] = {"default": None}
            uses_default = True
        elif "default" in nets:
            uses_default = True
    if "default" not in networks and uses_default:
        networks["default"] = None
    if networks:
        model["networks"] = networks


def _resolve(value: Any, environ: dict[str, str], keep_empty: bool) -> Any:
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str) and "=" not in item:
                if item in environ:
                    out.append(f"{item}={environ[item]}")
                elif keep_empty:
                    out.append(item)
                continue
            out.append(item)
        return out
    if isinstance(value, dict):
        mapping = {}
        for key, item in value.items():
            if item is not None:
                mapping[key] = item
            elif key in environ:
                mapping[key] = environ[key]
            elif keep_empty:
                mapping[key] = None
        return mapping
    return value


def _set_names(model: dict) -> None:
    for kind in ("networks", "volumes", "configs", "secrets"):
        resources = model.get(kind)
        if not isinstance(resources, dict):
            continue
        for key, resource in list(resources.items()):
            resource = resource if isinstance(resource, dict) else {}
            if resource.get("name") is None:
                external = resource.get("external")
                if external is True or (isinstance(external, str) and external.lower() in ("true", "1", "t")):
                    resource["name"] = key
                else:
                    resource["name"] = f"{model.get('name')}_{key}"
            resources[key] = resource


# -- after normalization: profiles, environment files, pruning -----------------------

def has_profile(service: dict, profiles: list[str]) -> bool:
    own = service.get("profiles") or []
    if not own:
        return True
    return "*" in profiles or any(p in profiles for p in own)


def profiles_of(model: dict, names: list[str], problems: Problems) -> list[str]:
    """The profiles that enable the named services (as `docker compose up <service>` does)."""
    services = model.get("services") or {}
    out: list[str] = []
    for name in names:
        if name not in services:
            problems.add(f"no such service: {name}")
            continue
        out += [p for p in services[name].get("profiles") or [] if p not in out]
    return out


def select_services(model: dict, names: list[str]) -> None:
    """Keep the named services and what they depend on (transitively)."""
    services = model.get("services") or {}
    keep: set[str] = set()
    todo = [n for n in names if n in services]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo += [d for d in (services[name].get("depends_on") or {}) if d in services]
    for name in list(services):
        if name not in keep:
            del services[name]
            continue
        depends_on = services[name].get("depends_on")
        if isinstance(depends_on, dict):
            for dep in [d for d in depends_on if d not in keep]:
                del depends_on[dep]
            if not depends_on:
                del services[name]["depends_on"]


def apply_profiles(model: dict, profiles: list[str]) -> dict:
    """Split services into enabled and disabled; returns the disabled ones."""
    services = model.get("services") or {}
    disabled = {name: s for name, s in services.items() if not has_profile(s, profiles)}
    model["services"] = {name: s for name, s in services.items() if name not in disabled}
    return disabled


class _Growth:
    """What substitution added to the values of every env and label file read for the project:
    each service reads its files again, so one file that grows near the bound, named by a
    hundred services, would grow a hundredfold past it."""

    def __init__(self) -> None:
        self.left = MAX_GROWTH

    def spend(self, values: dict, text: str, path: str) -> None:
        self.left -= max(0, sum(len(v) for v in values.values() if isinstance(v, str)) - len(text))
        if self.left < 0:
            raise TooLarge(path)


def resolve_env_files(model: dict, environ: dict[str, str], problems: Problems) -> None:
    """`env_file` contents merged under `environment` (which wins); `label_file` into labels."""
    growth, name = _Growth(), ""
    try:
        for name, service in (model.get("services") or {}).items():
            _resolve_files_of(name, service, environ, problems, growth)
    except TooLarge as exc:
        problems.add(f"reading {exc}: {too_large()}", ("services", name))


def _resolve_files_of(name: str, service: dict, environ: dict[str, str], problems: Problems,
                      growth: _Growth) -> None:
    """One service's env_file entries merged under its environment, its label_file into its labels."""
    env = _as_mapping(service.get("environment"))
    # `KEY` alone in environment takes the project's value (as compose resolves it)
    env = {k: (environ.get(k) if v is None and k in environ else v) for k, v in env.items()}
    files = service.pop("env_file", None) or []
    if files:
        merged: dict[str, str] = {}
        for entry in files:
            path = entry.get("path", "") if isinstance(entry, dict) else entry
            required = entry.get("required", True) if isinstance(entry, dict) else True
            fmt = entry.get("format") if isinstance(entry, dict) else None
            if not os.path.exists(path):
                if required:
                    problems.add(f"env file {path} not found", ("services", name, "env_file"))
                continue

            def lookup(key, _env=env):
                if key in environ:
                    return environ[key]
                value = _env.get(key)
                return value

            try:
                merged.update(_read_mapping_file(path, fmt, lookup, merged, growth))
            except envfile.EnvFileError as exc:
                problems.add(f"failed to read {path}: {exc}", ("services", name, "env_file"))
        for key, value in env.items():
            merged[key] = value
        env = merged
    if env:
        service["environment"] = env
    else:
        service.pop("environment", None)  # an empty mapping is not printed
    label_files = service.pop("label_file", None) or []
    if label_files:
        labels: dict[str, Any] = {}
        for path in label_files:
            if not os.path.exists(path):
                problems.add(f"label file {path} not found", ("services", name, "label_file"))
                continue
            try:
                labels.update(_read_mapping_file(path, None, lambda k, _l=labels: _l.get(k), labels, growth))
            except envfile.EnvFileError as exc:
                problems.add(f"failed to read {path}: {exc}", ("services", name, "label_file"))
        labels.update(_as_mapping(service.get("labels")))
        if labels:
            service["labels"] = labels


def _read_mapping_file(path: str, fmt: str | None, lookup, existing: dict, growth: _Growth) -> dict:
    try:
        text = textfile.read_text(path)
    except textfile.NotText as exc:
        raise envfile.EnvFileError(f"line {exc.line}, column {exc.column}: {exc.problem}") from None
    except OSError as exc:
        raise envfile.EnvFileError(exc.strerror or str(exc)) from None
    if fmt == "raw":
        out = {}
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if sep:
                out[key.strip()] = value
        return out  # nothing substituted: nothing grows
    if fmt not in (None, "", "env"):
        raise envfile.EnvFileError(f"unsupported env_file format {fmt!r}")

    def chained(key):
        value = lookup(key)
        return value if value is not None else existing.get(key)
    values = envfile.parse(text, chained)
    growth.spend(values, text, path)
    return values


def _as_mapping(value: Any) -> dict:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        out = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            out[key] = val if sep else None
        return out
    return {}


def prune(model: dict) -> None:
    """Drop top-level networks, volumes, secrets and configs no enabled service uses."""
    services = (model.get("services") or {}).values()
    used: dict[str, set] = {"networks": set(), "volumes": set(), "secrets": set(), "configs": set(),
                            "models": set()}
    for service in services:
        used["networks"].update((service.get("networks") or {}).keys())
        for volume in service.get("volumes") or []:
            if isinstance(volume, dict) and volume.get("type") == "volume" and volume.get("source"):
                used["volumes"].add(volume["source"])
        for secret in service.get("secrets") or []:
            used["secrets"].add(secret.get("source") if isinstance(secret, dict) else secret)
        build = service.get("build")
        if isinstance(build, dict):
            for secret in build.get("secrets") or []:
                used["secrets"].add(secret.get("source") if isinstance(secret, dict) else secret)
        for config in service.get("configs") or []:
            used["configs"].add(config.get("source") if isinstance(config, dict) else config)
        used["models"].update((service.get("models") or {}).keys())
    for kind, names in used.items():
        if kind in model and isinstance(model[kind], dict):
            model[kind] = {k: v for k, v in model[kind].items() if k in names}
            if not model[kind]:
                del model[kind]
