"""The normalized model in exactly the shape `docker compose config --format json` prints.

Strings where compose's Go types hold strings (labels, sysctls, byte sizes), Go-style
durations (`1m0s`), octal file modes (`"0440"`), shell-split commands, and so on.
"""

from __future__ import annotations

import math
from typing import Any

from stackup import units


class RenderError(Exception):
    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path


def go_str(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)
        return text
    return str(value)


def string_map(value: Any, *, allow_none: bool = False, none_as_empty: bool = False) -> dict:
    """A mapping of strings from a mapping or a `KEY=VALUE` list."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                out[str(key)] = None if allow_none else ""
            else:
                out[str(key)] = go_str(item)
    elif isinstance(value, list):
        for item in value:
            key, sep, val = str(item).partition("=")
            if sep:
                out[key] = val
            else:
                out[key] = None if allow_none else ""
    return out


def string_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [go_str(v) for v in value]
    return [go_str(value)]


def shell_command(value: Any, path: tuple = ()) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [go_str(v) for v in value]
    import shlex  # only a command given as one string needs it

    try:
        return shlex.split(str(value))
    except ValueError:
        raise RenderError(path, f"cannot split {value!r} into words (an unclosed quote?)") from None


def duration(value: Any, path: tuple) -> str:
    try:
        return units.format_duration(units.parse_duration(value))
    except ValueError as exc:
        raise RenderError(path, str(exc)) from None


def byte_size(value: Any, path: tuple) -> str:
    try:
        return str(units.parse_bytes(value))
    except ValueError as exc:
        raise RenderError(path, str(exc)) from None


def file_mode(value: Any, path: tuple) -> str:
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            raise RenderError(path, f"invalid file mode {value!r} (an octal number like 0440)") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise RenderError(path, f"invalid file mode {value} (an octal number like 0440)")
    return "0" + format(int(value), "o")


def extra_hosts(value: Any, path: tuple = ()) -> list[str]:
    """Sorted `host=ip` entries, as compose's HostsList prints them (`,` separates several IPs)."""
    hosts: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for host, ips in value.items():
            ips = ips if isinstance(ips, list) else ["" if ips is None else ips]
            hosts[str(host)] = [go_str(ip) for ip in ips]
    else:
        for item in value or []:
            text = go_str(item)
            for sep in ("=", ":"):
                host, found, ip = text.partition(sep)
                if found:
                    hosts.setdefault(host, []).extend(ip.split(","))
                    break
            else:
                raise RenderError(path, f"invalid extra host \"{text}\": missing the IP (host=ip or host:ip)")
    out = []
    for host, ips in hosts.items():
        if not host or ":" in host or "=" in host:
            raise RenderError(path, f"bad host name '{host}' in extra_hosts")
        for ip in ips:
            if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
                ip = ip[1:-1]
            out.append(f"{host}={ip}")
    return sorted(out)


def ulimits(value: Any, path: tuple = ()) -> dict:
    """A single limit prints as a number, else soft/hard (Go omits zeros: `0` prints as {})."""
    try:
        return _ulimits(value)
    except (TypeError, ValueError):
        raise RenderError(path, "a ulimit is a number or a mapping of soft and hard numbers") from None


def _ulimits(value: Any, json_quirks: bool = True) -> dict:
    out: dict[str, int | dict[str, int]] = {}
    for name, limit in (value or {}).items():
        if not isinstance(limit, dict):
            number = int(limit)
            if number:
                out[name] = number
                continue
            limit = {}
        if json_quirks:
            out[name] = {k: int(limit[k]) for k in ("soft", "hard") if limit.get(k) not in (None, 0, "0")}
        else:  # compose's YAML prints both, zeros included
            out[name] = {k: int(limit.get(k) or 0) for k in ("soft", "hard")}
    return out


def _ulimits_yaml(value, path):
    try:
        return _ulimits(value, json_quirks=False)
    except (TypeError, ValueError):
        raise RenderError(path, "a ulimit is a number or a mapping of soft and hard numbers") from None


def cpus(value: Any, path: tuple) -> float:
    # compose holds cpus as a float32 (and Go prints 1, not 1.0)
    import struct
    try:
        number = float(value)
        number = float(f"{struct.unpack('f', struct.pack('f', number))[0]:.7g}")
        if not math.isfinite(number):
            raise ValueError(number)
    except (TypeError, ValueError, OverflowError):  # OverflowError: past a float32's range
        raise RenderError(path, f"invalid number of CPUs {value!r}") from None
    return int(number) if number.is_integer() else number


# -- services ---------------------------------------------------------------------

def drop_extensions(value: Any) -> Any:
    """The JSON output drops `x-*` fields inside services."""
    if isinstance(value, dict):
        return {k: drop_extensions(v) for k, v in value.items() if not str(k).startswith("x-")}
    if isinstance(value, list):
        return [drop_extensions(v) for v in value]
    return value


# numbers compose holds without a pointer: 0 is not printed
_ZERO_OMITTED = {"cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
                 "cpus", "cpu_shares", "mem_limit", "mem_reservation", "memswap_limit", "mem_swappiness",
                 "shm_size", "oom_score_adj", "pids_limit"}
# plain Go bools with omitempty: `false` is not printed
_FALSE_OMITTED = {"oom_kill_disable", "privileged", "read_only", "stdin_open", "tty", "use_api_socket"}


# printed even when empty: an empty command (`[]`), and what compose holds as a struct
_PRINTED_EMPTY = {"command", "entrypoint", "blkio_config", "build", "credential_spec", "deploy", "develop",
                  "extends", "healthcheck", "logging", "provider"}


def _drop_false(mapping: dict, keys) -> dict:
    return {k: v for k, v in mapping.items() if not (k in keys and v is False)}


def render_service(service: dict, path: tuple, json_quirks: bool = True) -> dict:
    out: dict[str, Any] = {}
    service = _drop_false(service, _FALSE_OMITTED)
    if json_quirks:
        service = drop_extensions(service)
    for key, value in service.items():
        if value is None and key not in ("command", "entrypoint"):
            continue  # `key: null` means unset
        if value == "" and key not in _SERVICE:
            continue  # Go's omitempty
        if key in _ZERO_OMITTED and value in (0, "0"):
            continue  # Go's omitempty on numbers
        handler = _SERVICE.get(key)
        if key == "blkio_config" and not json_quirks:
            handler = _blkio_yaml
        if key == "ulimits" and not json_quirks:
            handler = _ulimits_yaml
        rendered = handler(value, path + (key,)) if handler else value
        if rendered in ([], {}) and key not in _PRINTED_EMPTY:
            continue  # Go's omitempty on lists and maps
        out[key] = rendered
    if json_quirks:  # JSON always has them; YAML leaves them out when unset
        out.setdefault("command", None)
        out.setdefault("entrypoint", None)
        if isinstance(out.get("deploy"), dict):
            out["deploy"].setdefault("resources", {})
            out["deploy"].setdefault("placement", {})
        for watch in (out.get("develop") or {}).get("watch") or []:
            if isinstance(watch, dict):
                watch.setdefault("exec", {"command": None})
    return out


def _labels(value, path):
    return string_map(value)


def _env(value, path):
    return string_map(value, allow_none=True)


def _build(value, path):
    if value.get("shm_size") == "":
        raise RenderError(path + ("shm_size",), "invalid size '' (a number of bytes, or with a unit: 64m)")
    out = _drop_false({k: v for k, v in value.items() if v != ""}, {"no_cache", "pull", "privileged"})
    for key in ("labels", "additional_contexts"):
        if key in out:
            out[key] = string_map(out[key])
    if "args" in out:
        out["args"] = string_map(out["args"], allow_none=True)
        if not out["args"]:  # Go's omitempty (an arg without a value and not in the environment is dropped)
            del out["args"]
    for key in ("cache_from", "cache_to", "tags", "platforms"):
        if key in out:
            out[key] = string_list(out[key])
    if "extra_hosts" in out:
        out["extra_hosts"] = extra_hosts(out["extra_hosts"], path + ("extra_hosts",))
    if "shm_size" in out:
        out["shm_size"] = byte_size(out["shm_size"], path + ("shm_size",))
    if "ulimits" in out:
        out["ulimits"] = ulimits(out["ulimits"], path + ("ulimits",))
    if "secrets" in out:
        out["secrets"] = [_mount(s, path + ("secrets", str(i))) for i, s in enumerate(out["secrets"])]
    if "ssh" in out and isinstance(out["ssh"], dict):
        out["ssh"] = [k if v is None else f"{k}={v}" for k, v in out["ssh"].items()]
    # Go's omitempty: empty lists and maps, and a zero shm_size, are not printed
    return {k: v for k, v in out.items() if v not in ([], {}) and not (k == "shm_size" and v == "0")}


def _mount(value, path):
    out = dict(value)
    if "mode" in out and out["mode"] is not None:
        out["mode"] = file_mode(out["mode"], path + ("mode",))
    for key in ("uid", "gid"):
        if key in out and out[key] is not None:
            out[key] = go_str(out[key])
    return out


def _healthcheck(value, path):
    out = _drop_false(value, {"disable"})
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    elif test == []:
        del out["test"]  # Go's omitempty
    elif isinstance(test, list):
        out["test"] = [go_str(t) for t in test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if out.get(key) is not None:
            out[key] = duration(out[key], path + (key,))
    return out


def _deploy(value, path):
    out = dict(value)
    if "labels" in out:
        out["labels"] = string_map(out["labels"])
    for section in ("update_config", "rollback_config"):
        if isinstance(out.get(section), dict):
            conf = dict(out[section])
            for key in ("delay", "monitor"):
                if conf.get(key) is not None:
                    conf[key] = duration(conf[key], path + (section, key))
            out[section] = conf
    if isinstance(out.get("restart_policy"), dict):
        policy = dict(out["restart_policy"])
        for key in ("delay", "window"):
            if policy.get(key) is not None:
                policy[key] = duration(policy[key], path + ("restart_policy", key))
        out["restart_policy"] = policy
    resources = out.get("resources")
    if isinstance(resources, dict):
        resources = dict(resources)
        for kind in ("limits", "reservations"):
            if isinstance(resources.get(kind), dict):
                res = dict(resources[kind])
                if res.get("cpus") is not None:
                    res["cpus"] = cpus(res["cpus"], path + ("resources", kind, "cpus"))
                if res.get("memory") is not None:
                    res["memory"] = byte_size(res["memory"], path + ("resources", kind, "memory"))
                if isinstance(res.get("devices"), list):
                    res["devices"] = [_device_request(d) for d in res["devices"]]
                resources[kind] = res
        out["resources"] = resources
    return out


def _device_request(value):
    out = dict(value)
    if out.get("count") == "all":
        out["count"] = -1
    return out


def _gpus(value, path):
    return [_device_request(v) for v in value or []]


def _ports(value, path):
    out = []
    for port in value or []:
        port = dict(port)
        if port.get("published") is not None:
            port["published"] = go_str(port["published"])
        if "target" in port and isinstance(port["target"], str) and port["target"].isdigit():
            port["target"] = int(port["target"])
        out.append(port)
    return out


def _volumes(value, path):
    out = []
    for index, volume in enumerate(value or []):
        volume = _drop_false(volume, {"read_only"})
        for key, flag in (("bind", "create_host_path"), ("volume", "nocopy")):
            if isinstance(volume.get(key), dict):
                volume[key] = _drop_false(volume[key], {flag})
        tmpfs = volume.get("tmpfs")
        if isinstance(tmpfs, dict):
            tmpfs = dict(tmpfs)
            if tmpfs.get("size") is not None:
                tmpfs["size"] = byte_size(tmpfs["size"], path + (str(index), "tmpfs", "size"))
            volume["tmpfs"] = tmpfs
        vol = volume.get("volume")
        if isinstance(vol, dict) and "labels" in vol:
            vol = dict(vol)
            vol["labels"] = string_map(vol["labels"])
            volume["volume"] = vol
        out.append(volume)
    return out


def _logging(value, path):
    out = dict(value)
    if "options" in out:
        out["options"] = string_map(out["options"])
    return out


def _depends_on(value, path):
    out = {}
    for name, dep in (value or {}).items():
        dep = dict(dep or {})
        if dep.get("restart") is False:
            del dep["restart"]
        out[name] = dep
    return out


def _hooks(value, path):
    out = []
    for hook in value or []:
        hook = _drop_false(hook, {"privileged"})
        if "command" in hook:
            hook["command"] = shell_command(hook["command"], path)
        if "environment" in hook:
            hook["environment"] = string_map(hook["environment"], allow_none=True)
        out.append(hook)
    return out


def _provider(value, path):
    out = dict(value)
    if isinstance(out.get("options"), dict):
        out["options"] = {k: [go_str(x) for x in (v if isinstance(v, list) else [v])]
                          for k, v in out["options"].items()}
    return out


def _develop(value, path):
    out = dict(value)
    watches = []
    for watch in out.get("watch") or []:
        watch = _drop_false(watch, {"initial_sync"})
        if isinstance(watch.get("exec"), dict):
            exec_ = dict(watch["exec"])
            if "command" in exec_:
                exec_["command"] = shell_command(exec_["command"], path)
            watch["exec"] = exec_
        watches.append(watch)
    if "watch" in out:
        out["watch"] = watches
    return out


def _blkio_yaml(value, path):
    out = _blkio(value, path)
    for key, entries in out.items():
        if isinstance(entries, list):
            out[key] = [{k.lower(): v for k, v in entry.items()} for entry in entries]
    return out


def _blkio(value, path):
    out = dict(value)
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        if isinstance(out.get(key), list):
            entries = []
            for entry in out[key]:
                rate = entry.get("rate")
                if key.endswith("bps") and rate is not None:
                    rate = byte_size(rate, path + (key,))
                elif rate is not None:
                    rate = go_str(rate)
                entries.append({"Path": entry.get("path"), "Rate": rate})
            out[key] = entries
    if isinstance(out.get("weight_device"), list):
        out["weight_device"] = [{"Path": e.get("path"), "Weight": e.get("weight")} for e in out["weight_device"]]
    return out


def _bytes(value, path):
    return byte_size(value, path)


def _duration(value, path):
    return duration(value, path)


def _mounts(value, path):
    return [_mount(v, path + (str(i),)) for i, v in enumerate(value or [])]


_SERVICE = {
    "command": lambda v, p: shell_command(v, p),
    "depends_on": _depends_on,
    "post_start": _hooks,
    "pre_stop": _hooks,
    "provider": _provider,
    "develop": _develop,
    "blkio_config": _blkio,
    "entrypoint": lambda v, p: shell_command(v, p),
    "environment": _env,
    "labels": _labels,
    "annotations": _labels,
    "sysctls": _labels,
    "storage_opt": _labels,
    "build": _build,
    "healthcheck": _healthcheck,
    "deploy": _deploy,
    "ports": _ports,
    "volumes": _volumes,
    "logging": _logging,
    "expose": lambda v, p: string_list(v),
    "group_add": lambda v, p: string_list(v),
    "dns": lambda v, p: string_list(v),
    "dns_search": lambda v, p: string_list(v),
    "dns_opt": lambda v, p: string_list(v),
    "tmpfs": lambda v, p: string_list(v),
    "extra_hosts": lambda v, p: extra_hosts(v, p),
    "ulimits": lambda v, p: ulimits(v, p),
    "mem_limit": _bytes,
    "mem_reservation": _bytes,
    "memswap_limit": _bytes,
    "mem_swappiness": _bytes,
    "shm_size": _bytes,
    "stop_grace_period": _duration,
    "secrets": _mounts,
    "configs": _mounts,
    "gpus": _gpus,
    "cpus": lambda v, p: cpus(v, p),
    "cpu_percent": lambda v, p: cpus(v, p),
}


# -- top level ------------------------------------------------------------------------

def render_resource(kind: str, resource: dict, json_quirks: bool = True) -> dict:
    # Go's omitempty on plain bools: `external: false` is not printed, nor a network's `internal: false`
    out = _drop_false(resource or {}, {"external", "internal", "attachable"} if kind == "networks" else {"external"})
    for key in ("labels", "driver_opts"):
        if key in out:
            out[key] = string_map(out[key])
    if kind == "networks":
        ipam = dict(out.get("ipam") or {})
        if "config" in ipam:
            configs = []
            for conf in ipam["config"] or []:
                conf = dict(conf)
                if "aux_addresses" in conf:
                    conf["aux_addresses"] = string_map(conf["aux_addresses"])
                configs.append(conf)
            ipam["config"] = configs
        if "options" in ipam:
            ipam["options"] = string_map(ipam["options"])
        if ipam or json_quirks:  # JSON always prints `ipam: {}`
            out["ipam"] = ipam
    for key in [k for k in out if k.startswith("x-") or (out[k] in ("", [], {}) and k != "ipam")]:
        del out[key]  # extensions, and Go's omitempty

    return out


def render(model: dict, json_quirks: bool = True) -> dict:
    """The model as compose prints it: `json_quirks` for `--format json`, else as its YAML."""
    out: dict[str, Any] = {"name": model.get("name")}
    services = model.get("services") or {}
    out["services"] = {name: render_service(s, ("services", name), json_quirks) for name, s in services.items()}
    if not json_quirks and model.get("models"):
        out["models"] = model["models"]
    for kind in ("networks", "volumes", "secrets", "configs"):
        resources = model.get(kind)
        if resources:
            out[kind] = {name: render_resource(kind, r, json_quirks) for name, r in resources.items()}
    for key, value in model.items():
        if key.startswith("x-"):
            out[key] = value
    return out


# -- key order, as compose prints (Go struct order; maps sorted by key) ---------------

_ORDER = {
    "service": "name profiles annotations attach build develop blkio_config cap_add cap_drop cgroup_parent cgroup "
               "cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpus cpuset cpu_shares "
               "command configs container_name credential_spec depends_on deploy device_cgroup_rules devices dns "
               "dns_opt dns_search dockerfile domainname entrypoint provider environment env_file expose extends "
               "external_links extra_hosts group_add gpus hostname healthcheck image init ipc isolation labels "
               "label_file links logging mem_limit mem_reservation memswap_limit mem_swappiness mac_address models "
               "network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports privileged "
               "pull_policy read_only restart runtime scale secrets security_opt shm_size stdin_open "
               "stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user "
               "userns_mode uts volumes volumes_from working_dir post_start pre_stop",
    "port": "name mode host_ip target published protocol app_protocol",
    "volume": "type source target read_only consistency bind volume tmpfs image",
    "build": "context dockerfile dockerfile_inline entitlements args provenance sbom ssh labels cache_from cache_to "
             "no_cache additional_contexts pull extra_hosts isolation network target secrets shm_size tags ulimits "
             "platforms privileged",
    "healthcheck": "test timeout interval retries start_period start_interval disable",
    "deploy": "mode replicas labels update_config rollback_config resources restart_policy placement endpoint_mode",
    "dependency": "condition restart required",
    "mount": "source target uid gid mode",
    "network": "name driver driver_opts ipam external internal attachable labels enable_ipv4 enable_ipv6",
    "top_volume": "name driver driver_opts external labels",
    "file_object": "name file environment content external labels driver driver_opts template_driver",
    "top": "name services networks volumes secrets configs models",
    "placement": "constraints preferences max_replicas_per_node",
    "watch": "path action target exec include ignore initial_sync",
    "ipam_config": "subnet gateway ip_range aux_addresses",
}
_ORDER_INDEX = {kind: {key: i for i, key in enumerate(keys.split())} for kind, keys in _ORDER.items()}
_SORTED_MAPS = {"environment", "labels", "annotations", "sysctls", "storage_opt", "args", "ulimits",
                "driver_opts", "options", "aux_addresses", "additional_contexts"}


def _ordered(mapping: dict, kind: str) -> dict:
    index = _ORDER_INDEX[kind]
    last = len(index)
    keys = sorted(mapping, key=lambda k: (index.get(k, last), k if k not in index else ""))
    return {k: mapping[k] for k in keys}


def _sorted_maps(mapping: dict) -> dict:
    return {k: (dict(sorted(v.items())) if k in _SORTED_MAPS and isinstance(v, dict) else v)
            for k, v in mapping.items()}


def arrange_service(service: dict) -> dict:
    out = _sorted_maps(_ordered(service, "service"))
    for key, kind in (("build", "build"), ("healthcheck", "healthcheck"), ("deploy", "deploy")):
        if isinstance(out.get(key), dict):
            out[key] = _sorted_maps(_ordered(out[key], kind))
    deploy = out.get("deploy")
    if isinstance(deploy, dict) and isinstance(deploy.get("placement"), dict):
        deploy["placement"] = _ordered(deploy["placement"], "placement")
    logging = out.get("logging")
    if isinstance(logging, dict) and isinstance(logging.get("options"), dict):
        logging["options"] = dict(sorted(logging["options"].items()))
    provider = out.get("provider")
    if isinstance(provider, dict) and isinstance(provider.get("options"), dict):
        provider["options"] = dict(sorted(provider["options"].items()))
    develop = out.get("develop")
    if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
        develop["watch"] = [_ordered(w, "watch") if isinstance(w, dict) else w for w in develop["watch"]]
    for key, kind in (("ports", "port"), ("volumes", "volume"), ("secrets", "mount"), ("configs", "mount")):
        if isinstance(out.get(key), list):
            out[key] = [_ordered(v, kind) if isinstance(v, dict) else v for v in out[key]]
    if isinstance(out.get("depends_on"), dict):
        out["depends_on"] = {n: _ordered(d, "dependency") if isinstance(d, dict) else d
                             for n, d in sorted(out["depends_on"].items())}
    if isinstance(out.get("networks"), dict):
        out["networks"] = dict(sorted(out["networks"].items()))
    return out


def _deep_sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_deep_sorted(v) for v in value]
    return value


def arrange(model: dict) -> dict:
    """The same model with keys in the order compose prints them."""
    out = _ordered(model, "top")
    for key in [k for k in out if k.startswith("x-")]:
        out[key] = _deep_sorted(out[key])  # extensions are plain maps to compose: sorted
    if isinstance(out.get("services"), dict):
        out["services"] = {n: arrange_service(s) if isinstance(s, dict) else s
                           for n, s in sorted(out["services"].items())}
    for key, kind in (("networks", "network"), ("volumes", "top_volume"), ("secrets", "file_object"),
                      ("configs", "file_object")):
        if isinstance(out.get(key), dict):
            out[key] = {n: _sorted_maps(_ordered(r, kind)) if isinstance(r, dict) else r
                        for n, r in sorted(out[key].items())}
    for network in (out.get("networks") or {}).values():
        ipam = network.get("ipam") if isinstance(network, dict) else None
        if isinstance(ipam, dict) and isinstance(ipam.get("config"), list):
            ipam["config"] = [_ordered(c, "ipam_config") if isinstance(c, dict) else c for c in ipam["config"]]
    return out
