"""A service's normalized config -> the engine's container spec arguments (pure).

`spec_arguments(request, ...)` maps the compose attributes the engine honours onto
keyword arguments of `stackup.engine.runtime.spec.spec_from_image`; the adapter adds
the image config, layers and mounts. What it cannot map, `up` has refused by name
before (`stackup.stackfile.support`, the table of supported attributes).

Networking goes to the runtime as `network_mode: bridge` plus a `networks` mapping in
the network engine's wiring format (engine network name -> aliases, address,
priority); the ports to publish and `dns_search` ride in a label the project
wiring (`stackup.project.wiring`) reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from stackup.errors import UserError
from stackup.project import resources
from stackup.units import parse_bytes, parse_duration, parse_seconds

# What the wiring needs beyond the runtime spec (ports, dns_search), as a JSON label.
NETWORK_EXTRAS = "io.stackup.network-extras"
MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")


def _int(value: Any, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: expected a number, not {value!r}") from None


def restart_policy(config: Mapping[str, Any]) -> str:
    """`restart:` or `deploy.restart_policy` as the engine writes it (`on-failure:3`)."""
    if config.get("restart"):
        return str(config["restart"])
    policy = (config.get("deploy") or {}).get("restart_policy") or {}
    condition = policy.get("condition")
    if not condition:
        return "no"
    name = {"none": "no", "any": "always", "on-failure": "on-failure"}.get(condition)
    if name is None:
        raise UserError(f"deploy.restart_policy.condition: {condition!r} is not none, on-failure or any")
    if name == "on-failure" and policy.get("max_attempts"):
        return f"on-failure:{int(policy['max_attempts'])}"
    return name


def healthcheck(config: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    """The compose healthcheck in Docker's form (Test, Interval... in ns), None when the
    service sets none (the image's applies), {"Test": ["NONE"]} when disabled."""
    check = config.get("healthcheck")
    if not check:
        return None
    if check.get("disable"):
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {}
    test = check.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if test:
        out["Test"] = list(test)
    for key, docker in (("interval", "Interval"), ("timeout", "Timeout"),
                        ("start_period", "StartPeriod"), ("start_interval", "StartInterval")):
        if check.get(key) is not None:
            out[docker] = parse_duration(check[key], f"{where}.healthcheck.{key}")
    if check.get("retries") is not None:
        out["Retries"] = _int(check["retries"], f"{where}.healthcheck.retries")
    return out


def merge_healthcheck(image: Mapping[str, Any] | None, service: Mapping[str, Any] | None) -> dict[str, Any]:
    """The service's healthcheck fields over the image's (as Docker merges them);
    {} when there is none, {"Test": ["NONE"]} when it is disabled."""
    merged = dict(image or {})
    merged.update(service or {})
    if not merged.get("Test"):
        return {}
    if merged["Test"][0] == "NONE":
        return {"Test": ["NONE"]}
    return merged


def environment(config: Mapping[str, Any]) -> list[str]:
    """`NAME=value` items; a name without a value (and not in the loader's environment)
    is left out, as compose does."""
    return [f"{k}={v}" for k, v in (config.get("environment") or {}).items() if v is not None]


def ulimits(config: Mapping[str, Any]) -> dict[str, list[int]]:
    result = {}
    for name, value in (config.get("ulimits") or {}).items():
        if isinstance(value, Mapping):
            result[name] = [_int(value.get("soft"), f"ulimits.{name}.soft"),
                            _int(value.get("hard"), f"ulimits.{name}.hard")]
        else:
            result[name] = [_int(value, f"ulimits.{name}")] * 2
    return result


def attachments(project_networks: Mapping[str, Any], config: Mapping[str, Any], container_name: str,
                service: str, network_name, where: str = "") -> list[dict[str, Any]]:
    """The networks a container joins, by priority (higher first) then key: engine
    network name, aliases (the service name first, as compose resolves it), address."""
    nets = config.get("networks") or {}
    ordered = sorted(nets.items(), key=lambda kv: (-int((kv[1] or {}).get("priority") or 0), kv[0]))
    result = []
    for i, (key, value) in enumerate(ordered):
        value = value or {}
        aliases = [service] + [a for a in value.get("aliases") or [] if a != service]
        result.append({"network": network_name(key, project_networks.get(key) or {}),
                       "aliases": aliases, "ipv4_address": value.get("ipv4_address"),
                       "ipv6_address": value.get("ipv6_address"),
                       "mac_address": _mac_address(config, value, primary=i == 0, where=f"{where}.networks.{key}"),
                       "container_name": container_name})
    return result


def _mac_address(config: Mapping[str, Any], network: Mapping[str, Any], *, primary: bool,
                 where: str) -> str | None:
    """The network's own `mac_address`, else the service's on its primary network (as
    compose sets it); both, differing, on one network is a contradiction."""
    own, service = network.get("mac_address"), config.get("mac_address")
    if own and service and primary and str(own).lower() != str(service).lower():
        raise UserError(f"{where}.mac_address: {own} differs from the service's mac_address {service}")
    mac = str(own or (service if primary else "") or "")
    if mac and not MAC.fullmatch(mac):
        raise UserError(f"{where}.mac_address: {mac!r} is not a MAC address (like 02:42:ac:11:00:02)")
    if mac and int(mac[:2], 16) & 1:
        raise UserError(f"{where}.mac_address: {mac} is a multicast address, which no interface can have")
    return mac.lower() or None


def links(config: Mapping[str, Any]) -> dict[str, str]:
    """`links` (SERVICE[:ALIAS]) and `external_links` (CONTAINER[:ALIAS]) as alias ->
    the name it stands for on the shared networks (a service's name, or a container's)."""
    out: dict[str, str] = {}
    for link in [*(config.get("links") or []), *(config.get("external_links") or [])]:
        target, _, alias = str(link).partition(":")
        if alias and alias != target:
            out[alias] = target
    return out


def _predefined_mode(config: Mapping[str, Any], project_networks: Mapping[str, Any], where: str) -> str:
    """`host` or `none` when the service is on a network that stands for them (see
    naming.predefined_network_mode); such a network must be its only one, as in Docker."""
    from stackup.project.naming import predefined_network_mode

    keys = list(config.get("networks") or {})
    for key in keys:
        mode = predefined_network_mode(project_networks.get(key) or {})
        if mode and len(keys) > 1:
            others = ", ".join(k for k in keys if k != key)
            raise UserError(f"{where}.networks: network {key} is the {mode} network, which a "
                            f"container cannot share with other networks ({others})")
        if mode:
            return mode
    return ""


def ports(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Compose long-syntax ports for the network engine's parser."""
    out = []
    for port in config.get("ports") or []:
        item = dict(port) if isinstance(port, Mapping) else port
        if isinstance(item, dict):
            item.pop("mode", None)
            item.pop("name", None)
            item.pop("app_protocol", None)
        out.append(item)
    return out


SHARED_PREFIXES = ("service:", "container:")
# compose attribute -> the spec's namespace mode
NAMESPACE_KEYS = {"ipc": "ipc_mode", "pid": "pid_mode", "uts": "uts_mode", "cgroup": "cgroupns_mode"}


def namespace_arguments(config: Mapping[str, Any], where: str) -> dict[str, str]:
    """`ipc`, `pid`, `uts`, `cgroup` as the spec's modes; a `service:NAME` is left for
    the adapter, which names that service's container (`container:<id>`)."""
    args = {}
    for key, attr in NAMESPACE_KEYS.items():
        value = str(config.get(key) or "")
        if value.startswith(SHARED_PREFIXES) and key not in ("ipc", "pid"):
            raise UserError(f"{where}.{key}: {value!r}: only host"
                            + (" or private" if key == "cgroup" else "") + " is possible")
        if value:
            args[attr] = value
    return args


def device_arguments(config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """`device_cgroup_rules` and `group_add` as given (checked by the engine); `devices`
    as (host path, container path, permissions) for the adapter, which finds the nodes."""
    from stackup.engine.runtime.spec import parse_device, parse_device_rule

    args: dict[str, Any] = {}
    rules = [str(r) for r in config.get("device_cgroup_rules") or []]
    for rule in rules:
        try:
            parse_device_rule(rule)
        except UserError as exc:
            raise UserError(f"{where}.device_cgroup_rules: {exc}") from None
    if rules:
        args["device_cgroup_rules"] = rules
    if config.get("group_add"):
        args["group_add"] = [str(g) for g in config["group_add"]]
    devices = []
    for i, device in enumerate(config.get("devices") or []):
        if isinstance(device, Mapping):  # the long syntax: source, target, permissions
            source = str(device.get("source") or "")
            devices.append((source, str(device.get("target") or source),
                            str(device.get("permissions") or "rwm")))
        else:
            try:
                devices.append(parse_device(str(device)))
            except UserError as exc:
                raise UserError(f"{where}.devices[{i}]: {exc}") from None
    if devices:
        args["host_devices"] = devices
    return args


def spec_arguments(config: Mapping[str, Any], *, where: str, container_name: str, service: str,
                   project_networks: Mapping[str, Any], network_name) -> dict[str, Any]:
    """Keyword arguments for `spec_from_image` (without image, layers and mounts)."""
    from stackup.engine.runtime.spec import parse_security_opts

    args: dict[str, Any] = {
        "entrypoint": list(config["entrypoint"]) if config.get("entrypoint") is not None else None,
        "cmd": list(config["command"]) if config.get("command") is not None else None,
        "env": environment(config),
        "user": str(config["user"]) if config.get("user") is not None else None,
        "working_dir": config.get("working_dir") or None,
        "labels": {str(k): str(v) for k, v in (config.get("labels") or {}).items()},
        "annotations": {str(k): str(v) for k, v in (config.get("annotations") or {}).items()},
        "hostname": str(config.get("hostname") or ""),
        "domainname": str(config.get("domainname") or ""),
        "init": bool(config.get("init")),
        "read_only": bool(config.get("read_only")),
        "tty": bool(config.get("tty")),
        "stdin_open": bool(config.get("stdin_open")),  # PID 1's stdin: a pipe the shim hands to `attach`
        "privileged": bool(config.get("privileged")),
        "cap_add": list(config.get("cap_add") or []),
        "cap_drop": list(config.get("cap_drop") or []),
        "ulimits": ulimits(config),
        "sysctls": {str(k): str(v) for k, v in (config.get("sysctls") or {}).items()},
        "extra_hosts": [str(h) for h in config.get("extra_hosts") or []],
        "dns": [str(d) for d in config.get("dns") or []],
        "dns_opt": [str(d) for d in config.get("dns_opt") or []],
        "restart": restart_policy(config),
        "stop_signal": config.get("stop_signal") or None,
    }
    args.update(parse_security_opts(config.get("security_opt") or [], f"{where}.security_opt"))
    limits = ((config.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    memory = config.get("mem_limit") or limits.get("memory")
    if memory:
        args["memory"] = _int(memory, f"{where}.mem_limit")
    if config.get("memswap_limit"):
        args["memory_swap"] = _int(config["memswap_limit"], f"{where}.memswap_limit")
    cpus = config.get("cpus") or limits.get("cpus")
    if cpus:
        args["cpus"] = float(cpus)
    args.update(resources.knobs(config, where))  # cpuset, blkio, cpu period... (and cpu_count)
    if config.get("cpu_shares"):
        args["cpu_shares"] = _int(config["cpu_shares"], f"{where}.cpu_shares")
    pids = config.get("pids_limit") or limits.get("pids")
    if pids:
        args["pids_limit"] = max(0, _int(pids, f"{where}.pids_limit"))
    if config.get("shm_size"):
        args["shm_size"] = _int(config["shm_size"], f"{where}.shm_size")
    if config.get("stop_grace_period") is not None:
        args["stop_timeout"] = int(round(parse_seconds(config["stop_grace_period"],
                                                       f"{where}.stop_grace_period")))
    options = (config.get("logging") or {}).get("options") or {}
    if options.get("max-size"):
        args["log_max_size"] = parse_bytes(options["max-size"], f"{where}.logging.options.max-size")
    if options.get("max-file"):
        args["log_max_files"] = _int(options["max-file"], f"{where}.logging.options.max-file")
    args.update(namespace_arguments(config, where))
    args.update(device_arguments(config, where))
    mode = str(config.get("network_mode") or "") or _predefined_mode(config, project_networks, where)
    nets = attachments(project_networks, config, container_name, service, network_name, where)
    if mode.startswith(SHARED_PREFIXES):
        args["network_mode"] = mode  # service:NAME: the adapter names that service's container
    elif mode in ("none", "host") or not nets:
        args["network_mode"] = mode or "none"
    else:
        # the network engine's wiring format: engine network name -> options
        args["network_mode"] = "bridge"
        linked = links(config)
        args["networks"] = {a["network"]: {"aliases": a["aliases"], "ipv4_address": a["ipv4_address"],
                                           "ipv6_address": a["ipv6_address"],
                                           "priority": len(nets) - i}
                            | ({"mac_address": a["mac_address"]} if a["mac_address"] else {})
                            | ({"links": linked} if linked else {})
                            for i, a in enumerate(nets)}
        extras = {"ports": ports(config), "dns_search": [str(d) for d in config.get("dns_search") or []]}
        args["labels"][NETWORK_EXTRAS] = json.dumps(extras, sort_keys=True, separators=(",", ":"))
    return args
