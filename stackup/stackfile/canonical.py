"""Short syntaxes to long form, and default values, as compose's transform step does."""

from __future__ import annotations

from typing import Any

from stackup.stackfile import pathmatch
from stackup.shortsyntax import SyntaxProblem, parse_ports, parse_volume


# with --no-interpolate a short syntax may still hold `${VAR}`: compose keeps it as written
_lenient = False
# deprecations noticed while transforming (the loader shows them as warnings)
warnings: list[str] = []


class CanonicalError(Exception):
    def __init__(self, path: tuple[str, ...], message: str):
        super().__init__(message)
        self.path = path


def _string_or_list(data, path):
    return [data] if isinstance(data, str) else data


def _string_or_x(data, path):
    if isinstance(data, bool):
        return "true" if data else "false"
    return data if isinstance(data, str) else str(data)


def _service(data, path):
    return _mapping(data, path) if isinstance(data, dict) else data


def _file_mount(data, path):
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        return {"source": data}
    raise CanonicalError(path, f"unsupported type {type(data).__name__}")


def _key_value(data, path):
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        out = {}
        for item in data:
            key, sep, value = str(item).partition("=")
            if not sep:
                if _lenient:
                    return data
                raise CanonicalError(path, f"invalid value {item}, expected key=value")
            out[key] = value
        return out
    raise CanonicalError(path, f"invalid type {type(data).__name__}")


def _depends_on(data, path):
    if isinstance(data, dict):
        for name, entry in data.items():
            if not isinstance(entry, dict):
                raise CanonicalError(path + (name,), "a dependency must be a mapping (condition, required, restart)")
            entry.setdefault("condition", "service_started")
            entry.setdefault("required", True)
        return data
    if isinstance(data, list):
        return {str(name): {"condition": "service_started", "required": True} for name in data}
    raise CanonicalError(path, f"invalid type {type(data).__name__} for depends_on")


def _env_file_value(data):
    if isinstance(data, str):
        return {"path": data, "required": True}
    if isinstance(data, dict):
        data.setdefault("required", True)
        return data
    return None


def _env_file(data, path):
    if isinstance(data, str):
        return [_env_file_value(data)]
    if isinstance(data, list):
        return [_env_file_value(item) for item in data]
    raise CanonicalError(path, f"invalid type {type(data).__name__} for env_file")


def _extends(data, path):
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        return {"service": data}
    raise CanonicalError(path, f"invalid type {type(data).__name__} for extends")


def _gpus(data, path):
    if isinstance(data, list):
        return data
    if isinstance(data, str):
        return [{"count": "all"}]
    raise CanonicalError(path, f"invalid type {type(data).__name__} for gpus")


def _slice_to_map(data, path):
    if isinstance(data, list):
        return {str(item): None for item in data}
    return data


def _volume_mount(data, path):
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        try:
            return parse_volume(data)
        except SyntaxProblem as exc:
            if _lenient:
                return data
            raise CanonicalError(path, str(exc)) from None
    raise CanonicalError(path, f"invalid type {type(data).__name__} for service volume mount")


def _device_mapping(data, path):
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        parts = data.split(":")
        if len(parts) > 3:
            raise CanonicalError(path, f"confusing device mapping, please use long syntax: {data}")
        source = parts[0]
        target = parts[1] if len(parts) > 1 and parts[1] else source
        permissions = parts[2] if len(parts) > 2 else "rwm"
        return {"source": source, "target": target, "permissions": permissions}
    raise CanonicalError(path, f"invalid type {type(data).__name__} for device")


def _ports(data, path):
    if not isinstance(data, list):
        raise CanonicalError(path, f"invalid type {type(data).__name__} for ports")
    out = []
    for index, entry in enumerate(data):
        if isinstance(entry, bool):
            raise CanonicalError(path + (str(index),), f"invalid port {entry}")
        if isinstance(entry, (int, str)):
            try:
                out.extend(parse_ports(str(entry)))
            except SyntaxProblem as exc:
                if _lenient:
                    return data
                raise CanonicalError(path + (str(index),), str(exc)) from None
        elif isinstance(entry, dict):
            out.append(entry)
        else:
            raise CanonicalError(path + (str(index),), f"invalid type {type(entry).__name__} for port")
    return out


def _build(data, path):
    if isinstance(data, dict):
        return _mapping(data, path)
    if isinstance(data, str):
        return {"context": data}
    raise CanonicalError(path, f"invalid type {type(data).__name__} for build")


def _ssh(data, path):
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        out = {}
        for item in data:
            if not isinstance(item, str):
                raise CanonicalError(path, f"invalid ssh key type {type(item).__name__}")
            key, sep, value = item.partition("=")
            if not sep:
                if key != "default":
                    raise CanonicalError(path, f"invalid ssh key {item!r}")
                out[key] = None
                continue
            out[key] = value
        return out
    raise CanonicalError(path, f"invalid type {type(data).__name__} for ssh")


def _ulimits(data, path):
    if isinstance(data, (dict, int)) and not isinstance(data, bool):
        return data
    raise CanonicalError(path, f"invalid type {type(data).__name__} for ulimit")


def _maybe_external(data, path):
    if data is None:
        return None
    if not isinstance(data, dict):
        return data
    resource = _mapping(data, path)
    if "external" in resource and isinstance(resource["external"], dict):
        external = resource["external"]
        resource["external"] = True
        if "name" in external:
            note = f"{'.'.join(path)}: external.name is deprecated, set name and external: true"
            if note not in warnings:
                warnings.append(note)
            if "name" in resource and resource["name"] != external["name"]:
                raise CanonicalError(path, "name and external.name conflict; only use name")
            resource.setdefault("name", external["name"])
    return resource


def _include(data, path):
    if isinstance(data, str):
        return {"path": data}
    return data


TRANSFORMERS = pathmatch.compile_table({
    "services.*": _service,
    "services.*.build.secrets.*": _file_mount,
    "services.*.build.provenance": _string_or_x,
    "services.*.build.sbom": _string_or_x,
    "services.*.build.additional_contexts": _key_value,
    "services.*.depends_on": _depends_on,
    "services.*.env_file": _env_file,
    "services.*.label_file": _string_or_list,
    "services.*.extends": _extends,
    "services.*.gpus": _gpus,
    "services.*.networks": _slice_to_map,
    "services.*.models": _slice_to_map,
    "services.*.volumes.*": _volume_mount,
    "services.*.dns": _string_or_list,
    "services.*.devices.*": _device_mapping,
    "services.*.secrets.*": _file_mount,
    "services.*.configs.*": _file_mount,
    "services.*.ports": _ports,
    "services.*.build": _build,
    "services.*.build.ssh": _ssh,
    "services.*.ulimits.*": _ulimits,
    "services.*.build.ulimits.*": _ulimits,
    "services.*.develop.watch.*.ignore": _string_or_list,
    "services.*.develop.watch.*.include": _string_or_list,
    "volumes.*": _maybe_external,
    "networks.*": _maybe_external,
    "secrets.*": _maybe_external,
    "configs.*": _maybe_external,
    "include.*": _include,
})


def canonical_model(model: dict, lenient: bool = False) -> dict:
    """The whole model in long form; `lenient` keeps short syntaxes that do not parse."""
    global _lenient
    _lenient = lenient
    try:
        return canonical(model)
    finally:
        _lenient = False


def canonical(data: Any, path: tuple[str, ...] = ()) -> Any:
    """Every short syntax of `data` turned into the long form (in place where possible)."""
    transformer = pathmatch.lookup(TRANSFORMERS, path)
    if transformer is not None:
        return transformer(data, path)
    if isinstance(data, dict):
        return _mapping(data, path)
    if isinstance(data, list):
        for index, item in enumerate(data):
            data[index] = canonical(item, path + (str(index),))
        return data
    return data


def _mapping(data: dict, path) -> dict:
    for key in list(data):
        data[key] = canonical(data[key], path + (key,))
    return data


def omit_empty_dns(model: dict) -> None:
    """Empty `dns` entries are dropped, as compose does."""
    for service in (model.get("services") or {}).values():
        if isinstance(service, dict) and isinstance(service.get("dns"), list):
            service["dns"] = [d for d in service["dns"] if d not in (None, "")]


# -- default values ----------------------------------------------------------------

def _default_build_context(data, path):
    if isinstance(data, dict):
        data.setdefault("context", ".")
    return data


def _default_secret_mount(data, path):
    if isinstance(data, dict) and "target" not in data:
        data["target"] = f"/run/secrets/{data.get('source')}"
    return data


def _port_defaults(data, path):
    if isinstance(data, dict):
        data.setdefault("protocol", "tcp")
        data.setdefault("mode", "ingress")
    return data


def _device_request_defaults(data, path):
    if isinstance(data, dict) and "count" not in data and "device_ids" not in data:
        data["count"] = "all"
    return data


DEFAULTS = pathmatch.compile_table({
    "services.*.build": _default_build_context,
    "services.*.secrets.*": _default_secret_mount,
    "services.*.ports.*": _port_defaults,
    "services.*.deploy.resources.reservations.devices.*": _device_request_defaults,
    "services.*.gpus.*": _device_request_defaults,
})


def set_defaults(data: Any, path: tuple[str, ...] = ()) -> Any:
    handler = pathmatch.lookup(DEFAULTS, path)
    if handler is not None:
        return handler(data, path)
    if isinstance(data, dict):
        for key in list(data):
            data[key] = set_defaults(data[key], path + (key,))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            data[index] = set_defaults(item, path + (str(index),))
    return data
