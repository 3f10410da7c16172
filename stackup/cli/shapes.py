"""Containers in Docker's shapes: `docker inspect`'s document, `docker ps`'s and
`docker compose ps`'s rows, and the value formats they use (times, durations, the
quoted and cut command). stackup's state file stays private: scripts see these.

What stackup does not have or know is present with Docker's zero value (an empty
string, 0, false, null), as Docker fills it for a container that lacks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from stackup.cli.gotemplate import Struct

if TYPE_CHECKING:
    from stackup.engine.runtime.containerstate import ContainerState
    from stackup.engine.runtime.spec import ContainerSpec

ZERO_TIME = "0001-01-01T00:00:00Z"


# --- value formats ------------------------------------------------------------------

def parse_time(stamp: str) -> datetime | None:
    """An ISO/RFC 3339 time as stackup records it (nanoseconds are cut to micro)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?", stamp or "")
    if not m:
        return None
    fraction = (m.group(3) or "0")[:6].ljust(6, "0")
    zone = m.group(4) or "Z"
    zone = "+00:00" if zone == "Z" else zone if ":" in zone else zone[:3] + ":" + zone[3:]
    return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}.{fraction}{zone}")


def go_time(stamp: str) -> str:
    """Go's RFC3339Nano in UTC (trailing zeros of the fraction dropped), as Docker's
    API writes times; `0001-01-01T00:00:00Z` for no time."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|\+00:00)", stamp or "")
    if m:  # already UTC: keep every digit (stackup records nanoseconds for some times)
        fraction = (m.group(3) or "").rstrip("0")
        return f"{m.group(1)}T{m.group(2)}{'.' + fraction if fraction else ''}Z"
    when = parse_time(stamp)
    if when is None:
        return ZERO_TIME
    text = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def go_seconds_time(stamp: str) -> str:
    """RFC 3339 to the second, UTC (`docker volume inspect`'s CreatedAt)."""
    when = parse_time(stamp)
    return ZERO_TIME if when is None else when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def created_at(stamp: str) -> str:
    """Go's time.String() to the second, as `ps`'s CreatedAt: `2024-05-01 10:00:00 +0000 UTC`."""
    when = parse_time(stamp)
    return "" if when is None else when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def human_duration(seconds: float) -> str:
    """Docker's units.HumanDuration: `Less than a second`, `5 seconds`, `About a minute`..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{hours // (24 * 365)} years"


def since(stamp: str, now: datetime | None = None) -> str:
    """The human duration from `stamp` until now (`a while` for no time)."""
    when = parse_time(stamp)
    if when is None:
        return "a while"
    return human_duration(((now or datetime.now(timezone.utc)) - when).total_seconds())


def ellipsis(text: str, width: int) -> str:
    """Docker's Ellipsis: cut to `width` characters, the last one `…`."""
    return text if len(text) <= width else text[:width - 1] + "…"


def go_quote(text: str) -> str:
    """strconv.Quote (printable Unicode kept)."""
    return json.dumps(text, ensure_ascii=False)


def go_json(value: Any, indent: int | None = None) -> str:
    """json.Marshal: `<`, `>`, `&` escaped as Go escapes them."""
    text = json.dumps(value, ensure_ascii=False, indent=indent,
                      separators=(",", ":") if indent is None else None)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def command_line(argv: Iterable[str]) -> str:
    """The daemon's Command in a container list: arguments with a space in quotes."""
    args = list(argv)
    return " ".join([args[0]] + [f"'{a}'" if " " in a else a for a in args[1:]]) if args else ""


# --- what a container's records say ------------------------------------------------------

def docker_status(state: ContainerState) -> str:
    """Docker's State.Status word for stackup's status."""
    from stackup.engine.runtime.containerstate import Status

    return {Status.CREATING: "created", Status.STARTING: "created"}.get(state.status, state.status.value)


def volume_names() -> dict[str, str]:
    """Mountpoint -> name of every named volume (a volume's mount records its source)."""
    try:
        from stackup.engine import volumes
    except ImportError:
        return {}
    return {v["mountpoint"]: v["name"] for v in volumes.list_volumes()}


def mounts(spec: ContainerSpec, named: Mapping[str, str]) -> list[dict[str, Any]]:
    """Docker's `Mounts` of a container."""
    out: list[dict[str, Any]] = []
    for m in spec.mounts:
        mode = "ro" if m.read_only else "rw"
        name = m.volume or named.get(m.source, "")
        if m.type == "tmpfs":
            out.append({"Type": "tmpfs", "Source": "", "Destination": m.target, "Mode": "",
                        "RW": not m.read_only, "Propagation": ""})
        elif name:
            out.append({"Type": "volume", "Name": name, "Source": m.source, "Destination": m.target,
                        "Driver": "local", "Mode": mode, "RW": not m.read_only, "Propagation": ""})
        else:
            out.append({"Type": "bind", "Source": m.source, "Destination": m.target, "Mode": mode,
                        "RW": not m.read_only, "Propagation": "rprivate"})
    return out


def port_bindings(state: ContainerState) -> dict[str, list[dict[str, str]]]:
    """NetworkSettings.Ports: `8000/tcp` -> [{HostIp, HostPort}] of each published port."""
    out: dict[str, list[dict[str, str]]] = {}
    for b in state.network.get("ports") or []:
        key = f"{b.get('container_port')}/{b.get('protocol', 'tcp')}"
        out.setdefault(key, []).append({"HostIp": b.get("host_ip") or "0.0.0.0",
                                        "HostPort": str(b.get("host_port"))})
    return out


def publishers(state: ContainerState) -> list[dict[str, Any]]:
    """compose's Publishers: one object per published port."""
    return [{"URL": b.get("host_ip") or "0.0.0.0", "TargetPort": b.get("container_port"),
             "PublishedPort": b.get("host_port"), "Protocol": b.get("protocol", "tcp")}
            for b in state.network.get("ports") or []]


def ports_text(state: ContainerState) -> str:
    """`127.0.0.1:32768->8000/tcp, 0.0.0.0:9000->9001/udp`."""
    return ", ".join(f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}"
                     for p in publishers(state))


def labels_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _label_method(labels: Mapping[str, str]) -> Callable[[str], str]:
    return lambda key: labels.get(key, "")


def summary(state: ContainerState, status_text: str, named: Mapping[str, str],
            trunc: bool = True) -> Struct:
    """The fields `docker ps` and `docker compose ps` share (a row of Docker's container list)."""
    spec = state.container_spec()
    ms = mounts(spec, named)
    cmd = command_line(spec.argv)
    return Struct({
        "Command": go_quote(ellipsis(cmd, 20) if trunc else cmd),
        "CreatedAt": created_at(state.created_at),
        "ID": state.id[:12] if trunc else state.id,
        "Image": spec.image,
        "Labels": labels_text(spec.labels),
        "LocalVolumes": str(sum(1 for m in ms if m["Type"] == "volume")),
        "Mounts": ",".join(ellipsis(m.get("Name") or m["Source"], 15) if trunc else m.get("Name") or m["Source"]
                           for m in ms if m["Type"] != "tmpfs"),
        "Names": state.name,
        "Networks": ",".join(sorted((state.network.get("networks") or spec.networks or {}).keys())),
        "Ports": ports_text(state),
        "RunningFor": f"{since(state.created_at)} ago",
        "Size": "0B",
        "State": docker_status(state),
        "Status": status_text,
        "Label": _label_method(spec.labels),
    })


def compose_row(state: ContainerState, status_text: str, health: str, exit_code: int,
                service: str, project: str, named: Mapping[str, str], trunc: bool = True) -> Struct:
    """A row of `docker compose ps` (`--format json` prints it: the callables left out)."""
    row = summary(state, status_text, named, trunc)
    row.update({"ExitCode": exit_code, "Health": health, "Name": state.name, "Project": project,
                "Publishers": publishers(state), "Service": service})
    return Struct(sorted(row.items()))


def public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON prints it: its methods are not data."""
    return {k: v for k, v in row.items() if not callable(v)}


# --- docker inspect -----------------------------------------------------------------------

def _or_null(items: Iterable[Any]) -> list[Any] | None:
    found = list(items)
    return found or None


def _restart_policy(restart: str) -> dict[str, Any]:
    name, _, count = (restart or "no").partition(":")
    return {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}


def _health(state: ContainerState) -> dict[str, Any] | None:
    record = state.health or {}
    if not state.container_spec().healthcheck:
        return None
    return {"Status": record.get("status") or "starting", "FailingStreak": record.get("failing_streak", 0),
            "Log": [{"Start": go_time(p["start"]), "End": go_time(p["end"]), "ExitCode": p["exit_code"],
                     "Output": p["output"]} for p in record.get("log", [])]}


def _state(state: ContainerState) -> dict[str, Any]:
    from stackup.engine.runtime.containerstate import Status

    status = state.status
    out: dict[str, Any] = {
        "Status": docker_status(state), "Running": status.is_up() and status is not Status.RESTARTING,
        "Paused": status is Status.PAUSED, "Restarting": status is Status.RESTARTING,
        "OOMKilled": state.oom_killed, "Dead": False, "Pid": state.pid if status.is_up() else 0,
        "ExitCode": state.exit_code or 0, "Error": state.error,
        "StartedAt": go_time(state.started_at), "FinishedAt": go_time(state.finished_at),
    }
    health = _health(state)
    if health is not None:
        out["Health"] = health
    return out


def _host_config(spec: ContainerSpec, named: Mapping[str, str], network_mode: str,
                 state: ContainerState) -> dict[str, Any]:
    from stackup.engine.runtime.rootfs import MASKED_DIRS, MASKED_FILES, READONLY_PATHS

    binds = [f"{m.get('Name') or m['Source']}:{m['Destination']}:{m['Mode']}"
             for m in mounts(spec, named) if m["Type"] != "tmpfs"]
    security = (["no-new-privileges"] if spec.no_new_privileges else []) + \
        ([] if spec.seccomp else ["seccomp=unconfined"])
    out: dict[str, Any] = {
        "Binds": binds or None, "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}}, "NetworkMode": network_mode,
        "PortBindings": port_bindings(state), "RestartPolicy": _restart_policy(spec.restart),
        "AutoRemove": spec.auto_remove, "VolumeDriver": "", "VolumesFrom": None,
        "CapAdd": _or_null(spec.cap_add), "CapDrop": _or_null(spec.cap_drop), "CgroupnsMode": "private",
        "Dns": _or_null(spec.dns), "DnsOptions": _or_null(spec.dns_opt), "DnsSearch": _or_null(spec.dns_search),
        "ExtraHosts": list(spec.extra_hosts), "GroupAdd": None, "IpcMode": "private", "Cgroup": "",
        "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": spec.privileged,
        "PublishAllPorts": False, "ReadonlyRootfs": spec.read_only, "SecurityOpt": _or_null(security),
        "UTSMode": "", "UsernsMode": "", "ShmSize": spec.shm_size, "Runtime": "stackup",
        "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": spec.cpu_shares, "Memory": spec.memory,
        "NanoCpus": int(round(spec.cpus * 1e9)), "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0,
        "KernelMemoryTCP": 0, "MemoryReservation": 0, "MemorySwap": spec.memory_swap,
        "MemorySwappiness": None, "OomKillDisable": False,
        "PidsLimit": spec.pids_limit or None,
        "Ulimits": _or_null({"Name": k, "Soft": v[0], "Hard": v[1]} if isinstance(v, (list, tuple))
                            else {"Name": k, "Soft": v, "Hard": v} for k, v in spec.ulimits.items()),
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": None if spec.privileged else sorted(MASKED_DIRS + MASKED_FILES),
        "ReadonlyPaths": None if spec.privileged else list(READONLY_PATHS),
    }
    if spec.sysctls:
        out["Sysctls"] = dict(spec.sysctls)
    if spec.annotations:  # omitted when empty, as Docker does
        out["Annotations"] = dict(spec.annotations)
    if spec.init:
        out["Init"] = True
    return out


def _config(state: ContainerState, spec: ContainerSpec) -> dict[str, Any]:
    exposed: dict[str, dict[str, Any]] = {f"{b.get('container_port')}/{b.get('protocol', 'tcp')}": {}
               for b in state.network.get("ports") or []}
    out: dict[str, Any] = {
        "Hostname": spec.hostname, "Domainname": spec.domainname, "User": spec.user,
        "AttachStdin": False, "AttachStdout": not spec.tty, "AttachStderr": not spec.tty,
    }
    if exposed:
        out["ExposedPorts"] = exposed
    out.update({
        "Tty": spec.tty, "OpenStdin": spec.stdin_open, "StdinOnce": False, "Env": list(spec.env),
        # stackup records the command line whole: it shows as the Cmd, with no Entrypoint
        "Cmd": list(spec.argv),
    })
    if spec.healthcheck:
        out["Healthcheck"] = dict(spec.healthcheck)
    out.update({"Image": spec.image, "Volumes": None, "WorkingDir": spec.working_dir,
                "Entrypoint": None, "OnBuild": None, "Labels": dict(sorted(spec.labels.items()))})
    if spec.stop_signal and spec.stop_signal != "SIGTERM":
        out["StopSignal"] = spec.stop_signal
    if spec.stop_timeout != 10:
        out["StopTimeout"] = spec.stop_timeout
    return out


def _networks(state: ContainerState) -> dict[str, dict[str, Any]]:
    out = {}
    for name, ep in sorted((state.network.get("networks") or {}).items()):
        out[name] = {"IPAMConfig": None, "Links": None, "Aliases": _or_null(ep.get("names", [])),
                     "NetworkID": ep.get("network_id", ""), "EndpointID": "",
                     "Gateway": ep.get("gateway") or "", "IPAddress": ep.get("ip", ""),
                     "IPPrefixLen": ep.get("prefixlen", 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
                     "GlobalIPv6PrefixLen": 0, "MacAddress": ep.get("mac", ""), "DriverOpts": None}
    return out


def inspect(state: ContainerState, cdir: str, log_path: str, named: Mapping[str, str]) -> dict[str, Any]:
    """`docker inspect`'s document of a container."""
    spec = state.container_spec()
    networks = _networks(state)
    mode = spec.network_mode
    if mode == "bridge" and spec.networks:
        mode = sorted(spec.networks)[0]
    return {
        "Id": state.id, "Created": go_time(state.created_at),
        "Path": spec.argv[0] if spec.argv else "", "Args": list(spec.argv[1:]),
        "State": _state(state), "Image": spec.image_id,
        "ResolvConfPath": f"{cdir}/resolv.conf", "HostnamePath": f"{cdir}/hostname",
        "HostsPath": f"{cdir}/hosts", "LogPath": log_path, "Name": "/" + state.name,
        "RestartCount": state.restart_count, "Driver": "overlay", "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
        "HostConfig": _host_config(spec, named, mode, state),
        "GraphDriver": {"Data": None, "Name": "overlay"},
        "Mounts": mounts(spec, named),
        "Config": _config(state, spec),
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": port_bindings(state), "SandboxKey": state.netns,
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
            "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "", "Networks": networks,
        },
    }
