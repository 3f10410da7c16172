"""What of a stack stackup can run: the one table of supported attributes.

The stack-file layer models every Compose attribute, so `config` works for every valid
file; `up`, `create` and `run` refuse, naming each, every attribute set that this
table calls unsupported (`check_supported`), never ignoring one. The JSON schema
marks the unsupported service attributes from it too (`x-stackup-unsupported`, for
editors). Plain data and small functions, no pydantic: every `up` reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from stackup.errors import UnsupportedError

# Service attributes the engine cannot honour yet.
UNSUPPORTED_SERVICE_KEYS = frozenset({
    "cgroup_parent", "credential_spec", "gpus", "isolation", "models",
    "provider", "pull_refresh_after", "storage_opt", "use_api_socket",
})
# Every other service attribute of the model is honoured, each somewhere: the loader
# (extends, env_file, profiles), reconcile and naming (image, pull_policy, depends_on,
# scale, container_name), the adapter's mounts (volumes, tmpfs), or the container spec
# (the rest), within the limits below. `expose` only documents ports (no links between
# containers to open), as in compose. A unit test checks that the two sets cover the model.
HONOURED_SERVICE_KEYS = frozenset({
    "build", "cap_add", "cap_drop", "command", "container_name", "cpu_shares", "cpus", "depends_on",
    "deploy", "develop", "dns", "dns_search", "domainname", "entrypoint", "env_file", "environment",
    "expose", "extends", "extra_hosts", "healthcheck", "hostname", "image", "init", "labels",
    "logging", "mem_limit", "memswap_limit", "network_mode", "networks", "pids_limit", "ports",
    "privileged", "profiles", "pull_policy", "read_only", "restart", "scale", "security_opt",
    "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "sysctls", "tmpfs", "tty",
    "ulimits", "user", "volumes", "working_dir",
    # the engine's namespaces, devices and files (secrets and configs: `stackup.project.secretfiles`)
    "cgroup", "configs", "device_cgroup_rules", "devices", "group_add", "ipc", "pid", "secrets",
    "uts", "volumes_from",
    # the cgroup knobs (stackup.project.resources, stackup.engine.runtime.cgknobs)
    "blkio_config", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
    "cpu_rt_runtime", "cpuset", "mem_reservation", "mem_swappiness", "oom_kill_disable", "oom_score_adj",
    # label_file: merged into labels by the loader; platform, runtime, userns_mode: their
    # values are checked below (the native platform, runc, host)
    "dns_opt", "label_file", "platform", "runtime", "userns_mode",
    # annotations: recorded on the container; attach: `up` (stackup.project.up); the
    # hooks: run by the adapter around start and stop (stackup.project.hooks)
    "annotations", "attach", "post_start", "pre_stop",
    # links as alias names the network's DNS server answers to the linking container only;
    # mac_address on the primary network's interface (per network: networks.X.mac_address)
    "external_links", "links", "mac_address",
})
# Why each refused attribute cannot run here (the rest are not built yet).
REFUSAL_REASONS = {
    "cgroup_parent": "one parent per container is not built yet; STACKUP_CGROUP_PARENT moves every container's",
    "credential_spec": "Windows only",
    "develop": "compose watch comes with stackup's watch command, not built yet",
    "gpus": "no GPU device requests in stackup's runtime",
    "isolation": "Windows only",
    "models": "no model runner here",
    "provider": "no provider plugins here",
    "pull_refresh_after": "pull_policy's refresh windows (daily, weekly, every_<duration>) are not built yet",
    "storage_opt": "overlay storage has no per-container size quota here",
    "use_api_socket": "no Docker API socket here",
}
RUNTIMES = (None, "", "runc")  # runc's semantics, on stackup's own runtime
USERNS_MODES = (None, "", "host")  # containers run in the host's user namespace
NETWORK_MODES = ("none", "host", "bridge")
SHARED_NETWORK_MODES = ("service:", "container:")  # another container's network namespace
# of a top-level secret or config: what needs a store (Swarm's) stackup does not have
FILE_OBJECT_UNSUPPORTED = ("external", "driver", "driver_opts", "template_driver")
SERVICE_NETWORK_KEYS: tuple[str, ...] = ("aliases", "ipv4_address", "priority")
SERVICE_NETWORK_KEYS += ("ipv6_address",)  # dual stack (issue 18)
SERVICE_NETWORK_KEYS += ("mac_address",)  # the interface's MAC
DEPLOY_KEYS = ("replicas", "restart_policy", "resources")
DEPLOY_MODES = (None, "replicated")
# the runtime restarts at once and counts attempts for ever: no delay, no window
RESTART_POLICY_UNSUPPORTED = ("delay", "window")
RESOURCE_LIMITS = ("cpus", "memory", "pids")
# reservations: memory is the container's reservation; cpus a swarm option compose drops
RESOURCE_RESERVATIONS = ("cpus", "memory")
LOG_DRIVERS = (None, "json-file", "local")
LOG_OPTIONS = ("max-size", "max-file")
BIND_PROPAGATIONS: tuple[str | None, ...] = (None, "rprivate", "private")
BIND_PROPAGATIONS += ("rslave", "slave")  # the host's mounts below the source reach the container
MOUNT_TYPES_UNSUPPORTED = ("npipe", "cluster")
PORT_MODES = (None, "ingress", "host")
NETWORK_DRIVERS: tuple[str | None, ...] = (None, "bridge")
NETWORK_DRIVERS += ("macvlan", "ipvlan", "host", "none", "null")  # issue 18
SUBLINK_DRIVERS = ("macvlan", "ipvlan")
SUBLINK_OPTIONS = ("parent", "macvlan_mode", "ipvlan_mode", "ipvlan_flag")  # their driver options
NETWORK_MTU_OPTION = "com.docker.network.driver.mtu"  # the one driver option the network engine reads
IPAM_DRIVERS = (None, "default")
VOLUME_DRIVERS = (None, "local")
VOLUME_DRIVER_OPTS = ("type", "o", "device")  # the local driver's, as mount(8) takes them
# `build:` keys the builder cannot honour (the rest are mapped by stackup.project.build;
# cache_from/cache_to only warn there: stackup keeps its own cache). A platform other
# than the machine's is refused there too (it needs the engine to know the machine's).
BUILD_UNSUPPORTED = ("entitlements", "no_cache_filter", "privileged", "ssh", "ulimits")
BUILD_ATTESTATIONS = ("provenance", "sbom")
BUILD_ISOLATIONS = (None, "", "default")
BUILD_NETWORKS = (None, "", "default", "none", "host")
# a context that is a URL (a git repository or an archive), not a folder
URL_PREFIXES = ("http://", "https://", "git://", "git@", "ssh://", "github.com/")


def _set(value: Any) -> bool:
    return value not in (None, [], {}, False, "")


def check_supported(desired: Mapping[str, Any], services: Iterable[str] = ()) -> None:
    """Raise UnsupportedError naming, one line each, every attribute set that stackup
    cannot run: of the given services (all when none is given), and of the top-level
    networks and volumes."""
    found = unsupported_attributes(desired, services)
    if found:
        lines = [f"{path} is not supported by stackup" for path in found]
        raise UnsupportedError(lines[0], problems=lines)


def unsupported_attributes(desired: Mapping[str, Any], services: Iterable[str] = ()) -> list[str]:
    """Paths such as `services.web.gpus` or `networks.back.driver (overlay)`, in order."""
    all_services = desired.get("services") or {}
    found = []
    for name in sorted(set(services) or set(all_services)):
        found += unsupported_service(name, all_services.get(name) or {})
    for key, config in sorted((desired.get("networks") or {}).items()):
        found += unsupported_network(key, config or {})
    for key, config in sorted((desired.get("volumes") or {}).items()):
        found += unsupported_volume(key, config or {})
    for kind in ("secrets", "configs"):
        for key, config in sorted((desired.get(kind) or {}).items()):
            found += [f"{kind}.{key}.{attr} (no secret or config store here: give file, environment or content)"
                      for attr in FILE_OBJECT_UNSUPPORTED if _set((config or {}).get(attr))]
    return found


def unsupported_service(name: str, config: Mapping[str, Any]) -> list[str]:
    where = f"services.{name}"
    found = [f"{where}.{key}" + (f" ({REFUSAL_REASONS[key]})" if key in REFUSAL_REASONS else "")
             for key in sorted(config) if key in UNSUPPORTED_SERVICE_KEYS and _set(config[key])]
    if config.get("runtime") not in RUNTIMES:
        found.append(f"{where}.runtime ({config['runtime']}: stackup runs containers as runc does, on its own runtime)")
    if config.get("userns_mode") not in USERNS_MODES:
        found.append(f"{where}.userns_mode ({config['userns_mode']}: only host)")
    if config.get("platform"):
        found += _platform(where, str(config["platform"]))
    mode = str(config.get("network_mode") or "")
    if mode and mode not in NETWORK_MODES and not mode.startswith(SHARED_NETWORK_MODES):
        found.append(f"{where}.network_mode ({mode})")
    found += _deploy(where, config.get("deploy") or {})
    if isinstance(config.get("build"), Mapping):
        found += _build(f"{where}.build", config["build"])
    found += _develop(where, config.get("develop") or {})
    logging = config.get("logging") or {}
    if logging.get("driver") not in LOG_DRIVERS:
        found.append(f"{where}.logging.driver ({logging['driver']})")
    found += [f"{where}.logging.options.{key}" for key in sorted(logging.get("options") or {})
              if key not in LOG_OPTIONS]
    for key, value in (config.get("networks") or {}).items():
        found += [f"{where}.networks.{key}.{attr}" for attr in sorted(value or {})
                  if attr not in SERVICE_NETWORK_KEYS and _set(value[attr])]
    for i, mount in enumerate(config.get("volumes") or []):
        if isinstance(mount, Mapping):
            found += _mount(f"{where}.volumes[{i}]", mount)
    for port in config.get("ports") or []:
        if isinstance(port, Mapping) and port.get("mode") not in PORT_MODES:
            found.append(f"{where}.ports.mode ({port['mode']})")
    return found


def _platform(where: str, text: str) -> list[str]:
    from stackup.engine.images import platform

    native = platform.host()
    parts = text.split("/")
    wanted = {"os": parts[0], "architecture": parts[1] if len(parts) > 1 else "",
              "variant": parts[2] if len(parts) > 2 else ""}
    if native.matches(wanted):
        return []
    return [f"{where}.platform ({text}: stackup runs this machine's platform only, {native})"]


def _deploy(where: str, deploy: Mapping[str, Any]) -> list[str]:
    found = []
    for key in sorted(deploy):
        if key == "mode" and deploy[key] in DEPLOY_MODES:
            continue
        if key not in DEPLOY_KEYS and _set(deploy[key]):
            found.append(f"{where}.deploy.{key}")
    policy = deploy.get("restart_policy") or {}
    found += [f"{where}.deploy.restart_policy.{key}" for key in RESTART_POLICY_UNSUPPORTED
              if _set(policy.get(key))]
    resources = deploy.get("resources") or {}
    found += [f"{where}.deploy.resources.{key}" for key in sorted(resources)
              if key not in ("limits", "reservations") and _set(resources[key])]
    reservations = resources.get("reservations") or {}
    found += [f"{where}.deploy.resources.reservations.{key}" for key in sorted(reservations)
              if key not in RESOURCE_RESERVATIONS and _set(reservations[key])]
    limits = resources.get("limits") or {}
    found += [f"{where}.deploy.resources.limits.{key}" for key in sorted(limits)
              if key not in RESOURCE_LIMITS and _set(limits[key])]
    return found


def _develop(where: str, develop: Mapping[str, Any]) -> list[str]:
    """`watch`'s exec runs as `exec` does: no privileged exec yet."""
    return [f"{where}.develop.watch[{i}].exec.privileged" for i, rule in enumerate(develop.get("watch") or [])
            if _set((rule.get("exec") or {}).get("privileged")) and str(rule["exec"]["privileged"]) != "false"]


def is_url(text: str) -> bool:
    """Whether a build context names a git repository or an archive URL."""
    return text.startswith(URL_PREFIXES) or text.endswith(".git")


def _build(where: str, build: Mapping[str, Any]) -> list[str]:
    found = [f"{where}.{key}" for key in BUILD_UNSUPPORTED
             if key in build and build[key] not in (None, [], {}, False, "", "false")]
    found += [f"{where}.{key}" for key in BUILD_ATTESTATIONS
              if build.get(key) not in (None, False, "", "false", "False")]
    context = str(build.get("context") or "")
    if is_url(context):
        found.append(f"{where}.context ({context}: a git or archive URL)")
    if build.get("isolation") not in BUILD_ISOLATIONS:
        found.append(f"{where}.isolation ({build['isolation']})")
    if build.get("network") not in BUILD_NETWORKS:
        found.append(f"{where}.network ({build['network']})")
    contexts = build.get("additional_contexts") or {}
    if isinstance(contexts, Mapping):
        for name, target in sorted(contexts.items()):
            target = str(target or "")
            if not target.startswith(("service:", "docker-image://")) and ("://" in target or is_url(target)):
                found.append(f"{where}.additional_contexts.{name} ({target})")
    return found


def selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


def _mount(where: str, mount: Mapping[str, Any]) -> list[str]:
    found = []
    bind = mount.get("bind") or {}
    if bind.get("propagation") not in BIND_PROPAGATIONS:
        found.append(f"{where}.bind.propagation ({bind['propagation']}: mounts made in a container "
                     "reaching the host are not built yet; rslave and slave are)")
    # :z/:Z relabel for SELinux; where it is not enabled Docker ignores them, and so does stackup
    if _set(bind.get("selinux")) and selinux_enabled():
        found.append(f"{where}.bind.selinux (relabelling for SELinux is not built yet)")
    if mount.get("type") in MOUNT_TYPES_UNSUPPORTED:
        found.append(f"{where}.type ({mount['type']})")
    return found


def unsupported_network(key: str, config: Mapping[str, Any]) -> list[str]:
    """What of a top-level network the network engine cannot make (refused before
    anything is created, rather than half-way through `up`)."""
    where = f"networks.{key}"
    if config.get("external"):  # only looked up, never made
        return []
    found = _driver(where, config, NETWORK_DRIVERS)
    found += [f"{where}.driver_opts.{opt}" for opt in sorted(config.get("driver_opts") or {})
              if opt != NETWORK_MTU_OPTION
              and not (config.get("driver") in SUBLINK_DRIVERS and opt in SUBLINK_OPTIONS)]
    ipam = config.get("ipam") or {}
    if ipam.get("driver") not in IPAM_DRIVERS:
        found.append(f"{where}.ipam.driver ({ipam['driver']})")
    if _set(ipam.get("options")):
        found.append(f"{where}.ipam.options")
    return found


def unsupported_volume(key: str, config: Mapping[str, Any]) -> list[str]:
    where = f"volumes.{key}"
    if config.get("external"):
        return []
    return _driver(where, config, VOLUME_DRIVERS) + [f"{where}.driver_opts.{key}" for key in sorted(config.get("driver_opts") or {})
                                                     if key not in VOLUME_DRIVER_OPTS]


def _driver(where: str, config: Mapping[str, Any], drivers: tuple) -> list[str]:
    return [] if config.get("driver") in drivers else [f"{where}.driver ({config['driver']})"]
