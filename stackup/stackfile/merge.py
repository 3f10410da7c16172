"""Merging stack files (and extended services) by compose's rules.

Mappings merge key by key; sequences append; a few attributes have their own rule
(`command`, `entrypoint` and `healthcheck.test` are replaced, `environment` and `labels`
are merged as `KEY=VALUE` lists, `depends_on` and `networks` as mappings, `logging`
only when the driver is the same). After a merge, sequences whose items name
something (ports, volumes by target, secrets by target, ...) keep one item per name,
the later one winning.
"""

from __future__ import annotations

from typing import Any

from stackup.stackfile import pathmatch


class MergeError(Exception):
    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.path = path


def _override(_base, other, _path):
    return other


def _to_sequence(value: Any) -> list:
    if isinstance(value, dict):
        seq = []
        for key, val in value.items():
            if val is None:
                seq.append(key)
            elif isinstance(val, list):
                seq.extend(f"{key}={_go_str(v)}" for v in val)
            else:
                seq.append(f"{key}={_go_str(val)}")
        return sorted(seq)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [value]
    return []


def _go_str(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _to_mapping(value: Any, default: dict | None) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(item): (dict(default) if default is not None else None) for item in value}
    return {}


def _merge_to_sequence(base, other, _path):
    return _to_sequence(base) + _to_sequence(other)


def _merge_extra_hosts(base, other, _path):
    right = _to_sequence(base)
    return right + [item for item in _to_sequence(other) if item not in right]


def _merge_depends_on(base, other, path):
    default = {"condition": "service_started", "required": True}
    return _merge_mappings(_to_mapping(base, default), _to_mapping(other, default), path)


def _merge_networks(base, other, path):
    return _merge_mappings(_to_mapping(base, None), _to_mapping(other, None), path)


def _merge_build(base, other, path):
    def as_build(value):
        if isinstance(value, str):
            return {"context": value}
        return value if isinstance(value, dict) else {}
    return _merge_mappings(as_build(base), as_build(other), path)


def _merge_logging(base, other, path):
    if not isinstance(base, dict) or not isinstance(other, dict):
        return other
    if "driver" not in other or "driver" not in base or other["driver"] == base["driver"]:
        return _merge_mappings(base, other, path)
    return other


def _merge_ulimit(base, other, path):
    return other


def _merge_ipam_config(base: Any, other: Any, path: tuple) -> Any:  # parsed YAML
    if not isinstance(base, list) or not isinstance(other, list):
        return other
    result: list = []
    for original in base:
        right = _to_mapping(original, None)
        for override in other:
            left = _to_mapping(override, None)
            if left.get("subnet") != right.get("subnet"):
                if not any(item.get("subnet") == left.get("subnet") for item in result):
                    result.append(left)
                    continue
            merged = _merge_mappings(dict(right), left, path)
            index = next((i for i, item in enumerate(result) if item.get("subnet") == merged.get("subnet")), -1)
            if index >= 0:
                result[index] = merged
            else:
                result.append(merged)
    return result


SPECIALS = pathmatch.compile_table({
    "networks.*.ipam.config": _merge_ipam_config,
    "networks.*.labels": _merge_to_sequence,
    "volumes.*.labels": _merge_to_sequence,
    "services.*.annotations": _merge_to_sequence,
    "services.*.build": _merge_build,
    "services.*.build.args": _merge_to_sequence,
    "services.*.build.additional_contexts": _merge_to_sequence,
    "services.*.build.extra_hosts": _merge_extra_hosts,
    "services.*.build.labels": _merge_to_sequence,
    "services.*.command": _override,
    "services.*.depends_on": _merge_depends_on,
    "services.*.deploy.labels": _merge_to_sequence,
    "services.*.dns": _merge_to_sequence,
    "services.*.dns_opt": _merge_to_sequence,
    "services.*.dns_search": _merge_to_sequence,
    "services.*.entrypoint": _override,
    "services.*.env_file": _merge_to_sequence,
    "services.*.label_file": _merge_to_sequence,
    "services.*.environment": _merge_to_sequence,
    "services.*.extra_hosts": _merge_extra_hosts,
    "services.*.healthcheck.test": _override,
    "services.*.labels": _merge_to_sequence,
    "services.*.volumes.*.volume.labels": _merge_to_sequence,
    "services.*.logging": _merge_logging,
    "services.*.models": _merge_networks,
    "services.*.networks": _merge_networks,
    "services.*.sysctls": _merge_to_sequence,
    "services.*.tmpfs": _merge_to_sequence,
    "services.*.ulimits.*": _merge_ulimit,
})


def merge(base: Any, other: Any, path: tuple[str, ...] = ()) -> Any:
    """`other` merged over `base` (both are changed or reused; pass copies to keep them)."""
    special = pathmatch.lookup(SPECIALS, path)
    if special is not None:
        return special(base, other, path)
    if other is None:
        return base
    if isinstance(base, dict):
        if not isinstance(other, dict):
            raise MergeError(f"cannot override a mapping with {_kind(other)}", path)
        return _merge_mappings(base, other, path)
    if isinstance(base, list):
        if not isinstance(other, list):
            raise MergeError(f"cannot override a list with {_kind(other)}", path)
        return list(base) + list(other)
    return other


def _kind(value: Any) -> str:
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else "a single value"


def _merge_mappings(base: dict, other: dict, path: tuple[str, ...]) -> dict:
    for key, value in other.items():
        if key not in base:
            base[key] = value
            continue
        base[key] = merge(base[key], value, path + (key,))
    return base


# -- one item per name in keyed sequences ---------------------------------------

def _kv_key(item, _path):
    if not isinstance(item, str):
        raise MergeError(f"expected KEY=VALUE text, not {_kind(item)}", _path)
    return item.split("=", 1)[0]


def _volume_key(item, path):
    if isinstance(item, dict):
        target = item.get("target")
        if not isinstance(target, str):
            raise MergeError("a volume needs a target", path)
        return target
    if isinstance(item, str):
        from stackup.shortsyntax import SyntaxProblem, parse_volume
        try:
            return parse_volume(item)["target"]
        except SyntaxProblem as exc:
            raise MergeError(str(exc), path) from None
    return ""


def _device_key(item, path):
    if isinstance(item, dict):
        target = item.get("target")
        if not isinstance(target, str):
            raise MergeError("a device needs a target", path)
        return target
    if isinstance(item, str):
        parts = item.split(":")
        return parts[0] if len(parts) == 1 else parts[1]
    return ""


def _expose_key(item, path):
    if isinstance(item, (str, int)) and not isinstance(item, bool):
        return str(item)
    raise MergeError(f"unsupported expose value {item}", path)


def _mount_key(default: str):
    def key(item, path):
        if isinstance(item, str):
            return f"{default}/{item}"
        if isinstance(item, dict):
            if "target" in item:
                return str(item["target"])
            return f"{default}/{item.get('source')}"
        raise MergeError(f"unsupported value {item}", path)
    return key


def _port_key(item, path):
    if isinstance(item, bool):
        return str(item)
    if isinstance(item, int):
        return str(item)
    if isinstance(item, dict):
        if "target" not in item:
            raise MergeError("a port needs a target", path)
        return f"{item.get('host_ip', '0.0.0.0')}:{item.get('published')}:{item['target']}/{item.get('protocol', 'tcp')}"
    return str(item)


def _env_file_key(item, path):
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        if "path" in item:
            return str(item["path"])
        raise MergeError("an env_file entry needs a path", path)
    return ""


UNIQUE = pathmatch.compile_table({
    "networks.*.labels": _kv_key,
    "networks.*.ipam.options": _kv_key,
    "services.*.annotations": _kv_key,
    "services.*.build.args": _kv_key,
    "services.*.build.additional_contexts": _kv_key,
    "services.*.build.platform": _kv_key,
    "services.*.build.tags": _kv_key,
    "services.*.build.labels": _kv_key,
    "services.*.cap_add": _kv_key,
    "services.*.cap_drop": _kv_key,
    "services.*.configs": _mount_key(""),
    "services.*.deploy.labels": _kv_key,
    "services.*.dns": _kv_key,
    "services.*.dns_opt": _kv_key,
    "services.*.dns_search": _kv_key,
    "services.*.environment": _kv_key,
    "services.*.env_file": _env_file_key,
    "services.*.expose": _expose_key,
    "services.*.labels": _kv_key,
    "services.*.links": _kv_key,
    "services.*.networks.*.aliases": _kv_key,
    "services.*.networks.*.link_local_ips": _kv_key,
    "services.*.ports": _port_key,
    "services.*.profiles": _kv_key,
    "services.*.secrets": _mount_key("/run/secrets"),
    "services.*.sysctls": _kv_key,
    "services.*.tmpfs": _kv_key,
    "services.*.volumes": _volume_key,
    "services.*.devices": _device_key,
})


def enforce_unicity(value: Any, path: tuple[str, ...] = ()) -> Any:
    """Keep one item per name in keyed sequences (the later definition wins, in place)."""
    if isinstance(value, dict):
        for key in list(value):
            value[key] = enforce_unicity(value[key], path + (key,))
        return value
    if isinstance(value, list):
        indexer = pathmatch.lookup(UNIQUE, path)
        if indexer is None:
            return value
        seq: list = []
        keys: dict[str, int] = {}
        for index, item in enumerate(value):
            key = indexer(item, path + (str(index),))
            if key in keys:
                seq[keys[key]] = item
            else:
                keys[key] = len(seq)
                seq.append(item)
        return seq
    return value
