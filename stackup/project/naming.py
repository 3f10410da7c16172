"""Names and labels that map a stack onto engine objects, and the service config hash.

The engine knows containers, networks and volumes, never services: everything the
project layer needs to find its objects again (`ps`, `down`, a second `up`, recovery
after a crash) is written into names and labels here, following docker compose's
conventions in stackup's own label namespace.

Names a user sees:
- service containers  `<project>-<service>-<n>` (or the service's `container_name`)
- one-off containers  `<project>-<service>-run-<12 hex>`
- networks / volumes  the `name:` the normalized stack already carries, which the
  loader sets to `<project>_<key>` unless the file gives one (external: the key)

The config hash is what `up` compares to decide whether a container must be
recreated: sha256 of the service's canonical JSON, leaving out what must not cause
a recreate (see `HASH_IGNORED`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

PREFIX = "io.stackup."

PROJECT = PREFIX + "project"
SERVICE = PREFIX + "service"
NUMBER = PREFIX + "number"
ONEOFF = PREFIX + "oneoff"
CONFIG_HASH = PREFIX + "config-hash"
CONFIG_FILES = PREFIX + "config-files"
WORKING_DIR = PREFIX + "working-dir"
# Id of the image the container was created from, set by whoever creates it (the
# engine resolves the reference at creation time); compared with the image's
# current id to recreate a container whose image changed.
IMAGE = PREFIX + "image"
# depends_on of the service at creation time (`svc:condition:restart,...`) so that
# `down` can stop in reverse dependency order from labels alone, without the file.
DEPENDS_ON = PREFIX + "depends-on"
NETWORK = PREFIX + "network"
VOLUME = PREFIX + "volume"
VERSION = PREFIX + "version"

LABEL_VERSION = "1"

# Service attributes left out of the config hash, as docker compose's ServiceHash
# does (pkg/compose/hash.go): changing them must not recreate running containers.
# - build, pull_policy: how the image is obtained; a new image is caught by the
#   image-id comparison instead.
# - scale, deploy.replicas: how many containers, handled by scaling up/down.
# - depends_on, profiles: ordering and selection, not the container's config.
# stackup also leaves out service-level `x-*` extension fields: compose's JSON
# output drops them, so they never reach the engine.
HASH_IGNORED = ("build", "pull_policy", "scale", "depends_on", "profiles")


def container_name(project: str, service: str, number: int,
                   service_config: Mapping[str, Any] | None = None) -> str:
    """`<project>-<service>-<n>`, or the service's explicit `container_name`."""
    if service_config and service_config.get("container_name"):
        return str(service_config["container_name"])
    return f"{project}-{service}-{number}"


def new_oneoff_token() -> str:
    """Random 12 hex digits that make a one-off container's name unique."""
    import secrets  # only `run` needs it: not loaded on the `up` path

    return secrets.token_hex(6)


def oneoff_name(project: str, service: str, token: str) -> str:
    """`<project>-<service>-run-<token>`, the name compose gives `run` containers."""
    return f"{project}-{service}-run-{token}"


def moved_aside_name(container_id: str, name: str) -> str:
    """The name a container is renamed to while its replacement takes its name."""
    return f"{container_id[:12]}_{name}"


def network_name(project: str, key: str, network_config: Mapping[str, Any] | None = None) -> str:
    """The engine name of network `key`: its `name:` (the normalized dict always has
    one), else `<project>_<key>` (or `<key>` for an external network)."""
    if network_config and network_config.get("name"):
        return str(network_config["name"])
    if network_config and network_config.get("external"):
        return key
    return f"{project}_{key}"


def predefined_network_mode(network_config: Mapping[str, Any] | None) -> str | None:
    """`host` or `none` for a network that stands for the host's own network stack or for
    none at all, as compose maps them (`driver: host` or `none`/`null`, or an external
    network named `host` or `none`): its services get that network_mode, and no network
    is made. None for any other network."""
    config = network_config or {}
    driver = str(config.get("driver") or "")
    if driver in ("host", "none", "null"):
        return "host" if driver == "host" else "none"
    if config.get("external") and config.get("name") in ("host", "none"):
        return str(config["name"])
    return None


def volume_name(project: str, key: str, volume_config: Mapping[str, Any] | None = None) -> str:
    """The engine name of volume `key`, by the same rules as networks."""
    return network_name(project, key, volume_config)


def default_image_name(project: str, service: str) -> str:
    """The image a service with `build:` and no `image:` gets (compose's rule)."""
    return f"{project}-{service}"


def service_image(project: str, service: str, service_config: Mapping[str, Any]) -> str:
    """The image reference a service's containers run."""
    image = service_config.get("image")
    return str(image) if image else default_image_name(project, service)


def project_labels(project: str) -> dict[str, str]:
    return {PROJECT: project, VERSION: LABEL_VERSION}


def encode_depends_on(depends_on: Mapping[str, Any] | None) -> str:
    """`db:service_healthy:false,cache:service_started:true`, sorted by service."""
    parts = []
    for name in sorted(depends_on or {}):
        spec = (depends_on or {})[name] or {}
        condition = spec.get("condition", "service_started")
        restart = "true" if spec.get("restart") else "false"
        parts.append(f"{name}:{condition}:{restart}")
    return ",".join(parts)


def decode_depends_on(value: str | None) -> dict[str, dict[str, Any]]:
    """The inverse of `encode_depends_on` (unknown or malformed parts are skipped)."""
    result: dict[str, dict[str, Any]] = {}
    for part in (value or "").split(","):
        fields = part.split(":")
        if len(fields) != 3 or not fields[0]:
            continue
        result[fields[0]] = {"condition": fields[1], "restart": fields[2] == "true"}
    return result


def container_labels(project: str, service: str, number: int, service_config: Mapping[str, Any], *,
                     config_hash: str, oneoff: bool = False,
                     config_files: Iterable[str] = (), working_dir: str | None = None) -> dict[str, str]:
    """The labels of a service container: the service's own `labels`, then stackup's
    (which win, so a user label cannot hide a container from its project).

    `IMAGE` is not here: the image id is known only when the container is created.
    """
    labels = {str(k): "" if v is None else str(v) for k, v in (service_config.get("labels") or {}).items()}
    labels.update(project_labels(project))
    labels.update({
        SERVICE: service,
        NUMBER: str(number),
        ONEOFF: "True" if oneoff else "False",
        CONFIG_HASH: config_hash,
        DEPENDS_ON: encode_depends_on(service_config.get("depends_on")),
    })
    files = ",".join(config_files)
    if files:
        labels[CONFIG_FILES] = files
    if working_dir:
        labels[WORKING_DIR] = str(working_dir)
    return labels


def network_labels(project: str, key: str, network_config: Mapping[str, Any] | None = None) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in ((network_config or {}).get("labels") or {}).items()}
    labels.update(project_labels(project))
    labels[NETWORK] = key
    return labels


def volume_labels(project: str, key: str, volume_config: Mapping[str, Any] | None = None) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in ((volume_config or {}).get("labels") or {}).items()}
    labels.update(project_labels(project))
    labels[VOLUME] = key
    return labels


def hashable_service(service_config: Mapping[str, Any]) -> dict[str, Any]:
    """The service config with what the hash ignores removed (a deep copy)."""
    service = {k: copy.deepcopy(v) for k, v in service_config.items()
               if k not in HASH_IGNORED and not str(k).startswith("x-")}
    deploy = service.get("deploy")
    if isinstance(deploy, dict):
        deploy.pop("replicas", None)
    return service


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: one text for one value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def config_hash(service_config: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of the service minus `HASH_IGNORED`."""
    text = canonical_json(hashable_service(service_config))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def service_scale(service_config: Mapping[str, Any], override: int | None = None) -> int:
    """How many containers a service wants: `--scale`, else `scale`, else
    `deploy.replicas`, else 1 (the loader has already checked they agree)."""
    if override is not None:
        return int(override)
    if service_config.get("scale") is not None:
        return int(service_config["scale"])
    deploy = service_config.get("deploy") or {}
    if deploy.get("replicas") is not None:
        return int(deploy["replicas"])
    return 1
