"""What a container is made of: the spec the engine creates it from, and its parsing rules.

The spec is plain data (JSON in the container's state file, its "spec"), independent
of how the CLI or the project layer got it. `spec_from_image` combines an image config
with the caller's overrides the way Docker does (entrypoint + cmd, env merge, labels).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from stackup.engine.runtime.cgknobs import Knobs
from stackup.errors import UnsupportedError, UserError


# Sysctls a container may set: the ones the kernel namespaces (as Docker allows).
NAMESPACED_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                      "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
NAMESPACED_SYSCTL_PREFIXES = ("fs.mqueue.", "net.")

from stackup.engine.runtime.process import DEFAULT_PATH, ULIMITS  # noqa: E402


@dataclass
class Mount:
    """A mount inside the container: `bind` (source is a host path) or `tmpfs`."""

    type: str
    target: str
    source: str = ""
    read_only: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # tmpfs: size, mode
    volume: str = ""  # the named volume a bind comes from (its users are recorded)
    # a bind's propagation: "" (rprivate), private, rslave or slave (see rootfs.PROPAGATION)
    propagation: str = ""


@dataclass(frozen=True)
class ContainerFile:
    """A file the container is given read-only at `target` (a secret, a config): written
    at create into the container's private folder (0700) and bound there. Its content
    is never part of the spec (nor so of the state file or `inspect`)."""

    target: str
    data: bytes = field(repr=False)
    uid: int = 0
    gid: int = 0
    mode: int = 0o444


@dataclass
class Device:
    """A host device node made in the container (`--device`): its node as found on the
    host at create (type "c" or "b", numbers, mode bits, owner) and the cgroup access."""

    path: str                 # in the container
    type: str = "c"
    major: int = 0
    minor: int = 0
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0
    permissions: str = "rwm"

    def rule(self) -> str:
        return f"{self.type} {self.major}:{self.minor} {self.permissions}"


@dataclass
class ContainerSpec:
    """Everything the runtime needs to create and run one container (plain data)."""

    image: str = ""
    image_id: str = ""
    layers: list[str] = field(default_factory=list)  # base first
    argv: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = "/"
    user: str = ""
    hostname: str = ""
    domainname: str = ""
    mounts: list[Mount] = field(default_factory=list)
    read_only: bool = False
    init: bool = False
    # with init: the host's static init (tini, what Docker ships as docker-init), shown
    # to the container as /sbin/docker-init; empty: stackup's own init (a Python PID 1)
    init_path: str = ""
    tty: bool = False
    stdin_open: bool = False  # -i: PID 1's stdin is a pipe an attached client writes to
    memory: int = 0
    memory_swap: int = 0  # 0: twice memory (Docker's default); -1: unlimited
    cpus: float = 0.0
    cpu_shares: int = 0
    pids_limit: int = 0
    knobs: Knobs = field(default_factory=Knobs)  # the other cgroup knobs (cpuset, blkio...)
    oom_score_adj: int = 0
    shm_size: int = 64 * 1024 * 1024
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    no_new_privileges: bool = True
    seccomp: bool = True
    ulimits: dict[str, list[int]] = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    # namespaces: "" (a private one), "host", or "container:<id>" (joins that container's);
    # ipc also takes Docker's "private" and "shareable" (both private here: any may join)
    ipc_mode: str = ""
    pid_mode: str = ""
    uts_mode: str = ""
    cgroupns_mode: str = ""  # "" or "private", or "host"
    devices: list[Device] = field(default_factory=list)
    device_cgroup_rules: list[str] = field(default_factory=list)  # 'c 1:3 mr' (devices.allow)
    group_add: list[str] = field(default_factory=list)  # names (the container's /etc/group) or ids
    network_mode: str = "none"
    networks: dict[str, Any] = field(default_factory=dict)  # handed to network wirings
    extra_hosts: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opt: list[str] = field(default_factory=list)
    ports: list[Any] = field(default_factory=list)  # compose port specs, for the wirings
    restart: str = "no"
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    auto_remove: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)  # recorded only, as Docker's HostConfig.Annotations
    healthcheck: dict[str, Any] = field(default_factory=dict)  # Docker's form (healthcheck.Check)
    log_max_size: int = 10 * 1024 * 1024
    log_max_files: int = 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerSpec:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        mount_keys = {f.name for f in fields(Mount)}  # keys a newer version added are left out
        values["knobs"] = Knobs.from_dict(values.get("knobs"))
        values["mounts"] = [Mount(**{k: v for k, v in m.items() if k in mount_keys})
                            for m in values.get("mounts", [])]
        device_keys = {f.name for f in fields(Device)}
        values["devices"] = [Device(**{k: v for k, v in d.items() if k in device_keys})
                             for d in values.get("devices", [])]
        return cls(**values)


def image_attr(config: Any, name: str, default: Any) -> Any:
    """An attribute of an image config object or dict (None counts as missing)."""
    value = config.get(name) if isinstance(config, dict) else getattr(config, name, None)
    return default if value is None else value


def combine_argv(image_entrypoint: list[str] | None, image_cmd: list[str] | None,
                 entrypoint: list[str] | None, cmd: list[str] | None) -> list[str]:
    """Docker's rule: a new entrypoint drops the image's cmd; a new cmd replaces the image's."""
    if entrypoint is not None:
        return list(entrypoint) + list(cmd or [])
    return list(image_entrypoint or []) + list(cmd if cmd else (image_cmd or []))


def merge_env(image_env: list[str], env: list[str]) -> list[str]:
    """The image's env with the container's on top (by name), PATH always present."""
    merged: dict[str, str] = {}
    for item in list(image_env) + list(env):
        key, sep, value = item.partition("=")
        if not key:
            raise UserError(f"invalid environment variable {item!r}: expected NAME=VALUE")
        merged[key] = value if sep else merged.get(key, "")
    merged.setdefault("PATH", DEFAULT_PATH)
    return [f"{k}={v}" for k, v in merged.items()]


def parse_restart(policy: str) -> tuple[str, int]:
    """'on-failure:3' -> ('on-failure', 3); validates the policy name."""
    name, _, count = (policy or "no").partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise UserError(f"invalid restart policy {policy!r}: "
                        "expected no, always, on-failure[:max] or unless-stopped")
    if count and (name != "on-failure" or not count.isdigit()):
        raise UserError(f"invalid restart policy {policy!r}: only on-failure takes a count")
    return name, int(count or 0)


def parse_ulimit(text: str) -> tuple[str, list[int]]:
    """'nofile=1024:2048' -> ('nofile', [1024, 2048])."""
    name, sep, limits = text.partition("=")
    if not sep or name not in ULIMITS:
        raise UserError(f"invalid ulimit {text!r}: expected NAME=SOFT[:HARD] "
                        f"with NAME one of {', '.join(sorted(ULIMITS))}")
    soft, _, hard = limits.partition(":")
    try:
        values = [int(soft), int(hard or soft)]
    except ValueError:
        raise UserError(f"invalid ulimit {text!r}: limits must be integers") from None
    if values[0] > values[1]:
        raise UserError(f"invalid ulimit {text!r}: soft limit above hard limit")
    return name, values


def parse_security_opts(opts: Iterable[str], what: str = "security_opt") -> dict[str, bool]:
    """Docker's `no-new-privileges[:false]` and `seccomp=unconfined`, all the engine
    honours of `--security-opt`, as spec fields."""
    result: dict[str, bool] = {}
    for opt in opts:
        key, _, value = str(opt).replace("=", ":", 1).partition(":")
        if key == "no-new-privileges":
            result["no_new_privileges"] = value.lower() not in ("false", "0")
        elif key == "seccomp" and value == "unconfined":
            result["seccomp"] = False
        else:
            raise UnsupportedError(f"{what} {opt!r} is not supported by stackup "
                                   "(no-new-privileges[:false], seccomp=unconfined)")
    return result


def check_sysctl(name: str) -> None:
    if name in NAMESPACED_SYSCTLS or name.startswith(NAMESPACED_SYSCTL_PREFIXES):
        return
    raise UserError(f"sysctl {name!r} is not namespaced: a container may only set "
                    "net.*, fs.mqueue.*, kernel.shm*, kernel.msg* and kernel.sem")


def validate(spec: ContainerSpec) -> None:
    """Reject what the engine cannot run, before anything is created."""
    from stackup.engine.runtime import cgknobs, security

    if not spec.argv:
        raise UserError("no command specified: the image has no entrypoint or cmd; give one")
    if not spec.working_dir.startswith("/"):
        raise UserError(f"working directory {spec.working_dir!r} must be absolute")
    parse_restart(spec.restart)
    if spec.auto_remove and parse_restart(spec.restart)[0] != "no":
        raise UserError("--rm and a restart policy cannot be used together")
    for cap in spec.cap_add + spec.cap_drop:
        security.cap_number(cap)
    for name in spec.sysctls:
        check_sysctl(name)
    for name in spec.ulimits:
        if name not in ULIMITS:
            raise UserError(f"unknown ulimit {name!r}")
    for m in spec.mounts:
        if m.type not in ("bind", "tmpfs"):
            raise UserError(f"mount {m.target}: type {m.type!r} must be bind or tmpfs")
        if not m.target.startswith("/"):
            raise UserError(f"mount target {m.target!r} must be an absolute path")
        if m.type == "bind" and not m.source.startswith("/"):
            raise UserError(f"bind mount source {m.source!r} must be an absolute host path")
    if spec.cpus < 0 or spec.memory < 0 or spec.pids_limit < 0:
        raise UserError("resource limits must not be negative")
    if spec.memory and 0 < spec.memory_swap < spec.memory:
        raise UserError("memory-swap must be at least memory")
    if spec.knobs.memory_reservation and spec.memory and spec.knobs.memory_reservation > spec.memory:
        raise UserError("the memory reservation must be below the memory limit")
    if not -1000 <= spec.oom_score_adj <= 1000:
        raise UserError(f"oom_score_adj {spec.oom_score_adj} must be between -1000 and 1000")
    cgknobs.validate(spec.knobs, spec.cpus)
    mode = spec.network_mode
    if not (mode in ("none", "host", "bridge") or mode.startswith("container:")
            or spec.networks):
        raise UserError(f"unknown network mode {mode!r}")
    if spec.ports and (mode in ("none", "host") or mode.startswith("container:")):
        raise UserError(f"ports cannot be published with network mode {mode!r}")
    _check_namespace_modes(spec)
    for device in spec.devices:
        check_device_permissions(device.permissions, f"device {device.path}")
        if not device.path.startswith("/"):
            raise UserError(f"device path {device.path!r} in the container must be absolute")
    for rule in spec.device_cgroup_rules:
        parse_device_rule(rule)


# Per namespace, the modes besides "container:<id>" (`""`: the default, private).
NAMESPACE_MODES = {"ipc_mode": ("", "private", "shareable", "host"), "pid_mode": ("", "host"),
                   "uts_mode": ("", "host"), "cgroupns_mode": ("", "private", "host")}


def _check_namespace_modes(spec: ContainerSpec) -> None:
    if spec.uts_mode == "host" and spec.hostname:
        raise UserError("a hostname cannot be set with the host's UTS namespace (uts: host)")
    for name, modes in NAMESPACE_MODES.items():
        value = getattr(spec, name)
        joinable = name in ("ipc_mode", "pid_mode")
        if value in modes or (joinable and value.startswith("container:") and value != "container:"):
            continue
        choices = ", ".join(m for m in modes if m) + (", container:NAME" if joinable else "")
        raise UserError(f"invalid {name.replace('_mode', '').replace('ns', '')} mode {value!r}: "
                        f"expected {choices}")


def check_device_permissions(permissions: str, where: str) -> None:
    if not permissions or any(c not in "rwm" for c in permissions) or len(set(permissions)) != len(permissions):
        raise UserError(f"{where}: invalid cgroup permissions {permissions!r}: expected a "
                        "combination of r, w and m")


def parse_device_rule(rule: str) -> tuple[str, str, str, str]:
    """'c 1:3 mr' -> ('c', '1', '3', 'mr'): a device cgroup rule as Docker takes it
    (type a, b or c; major and minor a number or *; access of r, w, m)."""
    import re

    found = re.fullmatch(r"([abc]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})", str(rule).strip())
    if found is None:
        raise UserError(f"invalid device cgroup rule {rule!r}: expected TYPE MAJOR:MINOR ACCESS "
                        "such as 'c 1:3 mr' (type a, b or c; * for any number)")
    return found[1], found[2], found[3], found[4]


def parse_device(text: str) -> tuple[str, str, str]:
    """Docker's `--device` short form HOST[:CONTAINER][:PERMISSIONS] -> (host, container,
    permissions); the container path defaults to the host's, the permissions to rwm."""
    parts = str(text).split(":")
    if len(parts) > 3 or not parts[0]:
        raise UserError(f"invalid device {text!r}: expected HOST[:CONTAINER][:PERMISSIONS]")
    host = parts[0]
    container, permissions = host, "rwm"
    if len(parts) == 2:
        if parts[1] and all(c in "rwm" for c in parts[1]) and not parts[1].startswith("/"):
            permissions = parts[1]
        else:
            container = parts[1]
    elif len(parts) == 3:
        container, permissions = parts[1] or host, parts[2]
    check_device_permissions(permissions, f"device {text!r}")
    return host, container, permissions


def spec_from_image(config: Any, layers: list[str], *, image: str = "", image_id: str = "",
                    entrypoint: list[str] | None = None, cmd: list[str] | None = None,
                    env: list[str] | None = None, user: str | None = None,
                    working_dir: str | None = None, labels: dict[str, str] | None = None,
                    **overrides: Any) -> ContainerSpec:
    """A spec from an image config (object or dict with Docker's config fields) and the
    caller's overrides; `None` means "the image's"."""
    argv = combine_argv(image_attr(config, "entrypoint", None), image_attr(config, "cmd", None),
                        entrypoint, cmd)
    stop_signal = overrides.pop("stop_signal", None) or image_attr(config, "stop_signal", "")
    if isinstance(overrides.get("knobs"), dict):
        overrides["knobs"] = Knobs.from_dict(overrides["knobs"])
    spec = ContainerSpec(
        image=image, image_id=image_id, layers=[str(p) for p in layers], argv=argv,
        env=merge_env(list(image_attr(config, "env", [])), env or []),
        user=user if user is not None else image_attr(config, "user", ""),
        working_dir=working_dir or image_attr(config, "working_dir", "") or "/",
        labels={**dict(image_attr(config, "labels", {})), **(labels or {})},
        stop_signal=stop_signal or "SIGTERM",
        healthcheck=_as_dict(image_attr(config, "healthcheck", {})),
        **overrides)
    return spec


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return dict(vars(value)) if value else {}
