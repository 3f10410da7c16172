"""Stacks (normalized dicts, in the shape `docker compose config --format json`
gives) and snapshots for the project-layer unit tests.

`deployed(desired)` builds the snapshot a previous, successful `up` of `desired`
leaves behind: every container labelled exactly as `reconcile` asks, so a second
reconcile must plan nothing. Scenarios then change the stack or the snapshot.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from typing import Any

from stackup.project import anonymous, naming
from stackup.project.observed import ObservedContainer, ObservedNetwork, ObservedVolume, Snapshot

BUSYBOX = "stackup.local/busybox:latest"
BUSYBOX_ID = "sha256:" + "b" * 64
NGINX = "nginx:alpine"
NGINX_ID = "sha256:" + "a" * 64


def webdemo() -> dict[str, Any]:
    """samples/web/compose.yaml, normalized."""
    return {
        "name": "webdemo",
        "networks": {"default": {"name": "webdemo_default", "ipam": {}}},
        "services": {
            "backend": {
                "command": ["sh", "-c", "echo hi > /www/index.html && exec httpd -f -p 9000 -h /www"],
                "entrypoint": None,
                "healthcheck": {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9000/"],
                                "interval": "1s", "retries": 30},
                "image": BUSYBOX,
                "networks": {"default": None},
                "volumes": [{"type": "volume", "source": "site", "target": "/www", "volume": {}}],
            },
            "web": {
                "command": ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"],
                "depends_on": {"backend": {"condition": "service_healthy", "required": True}},
                "entrypoint": None,
                "image": BUSYBOX,
                "networks": {"default": None},
                "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 8080,
                           "published": "18080", "protocol": "tcp"}],
                "volumes": [{"type": "volume", "source": "site", "target": "/www", "volume": {}}],
            },
        },
        "volumes": {"site": {"name": "webdemo_site"}},
    }


def chain() -> dict[str, Any]:
    """db <- api (healthy) <- front (started), migrate runs to completion before api,
    worker scaled to 2: most of depends_on and scale in one stack."""
    def svc(**extra: Any) -> dict[str, Any]:
        base = {"command": None, "entrypoint": None, "image": NGINX, "networks": {"default": None}}
        base.update(extra)
        return base
    return {
        "name": "shop",
        "networks": {"default": {"name": "shop_default", "ipam": {}},
                     "back": {"name": "shop_back", "ipam": {}}},
        "services": {
            "db": svc(networks={"back": None}, healthcheck={"test": ["CMD-SHELL", "true"]},
                      volumes=[{"type": "volume", "source": "data", "target": "/data", "volume": {}}]),
            "migrate": svc(networks={"back": None},
                           depends_on={"db": {"condition": "service_healthy", "required": True}}),
            "api": svc(networks={"back": None, "default": None},
                       depends_on={"db": {"condition": "service_healthy", "required": True, "restart": True},
                                   "migrate": {"condition": "service_completed_successfully",
                                               "required": True}}),
            "front": svc(depends_on={"api": {"condition": "service_started", "required": True}}),
            "worker": svc(networks={"back": None}, deploy={"replicas": 2, "resources": {}, "placement": {}},
                          depends_on={"db": {"condition": "service_started", "required": True}}),
        },
        "volumes": {"data": {"name": "shop_data"}},
    }


IMAGE_IDS = {BUSYBOX: BUSYBOX_ID, NGINX: NGINX_ID}


def container_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def container(desired: dict[str, Any], service: str, number: int, *, status: str = "running",
              config: dict[str, Any] | None = None, image_id: str | None = None,
              name: str | None = None, oneoff: bool = False) -> ObservedContainer:
    """A container as `up` creates it for `service` (labels from `config`, by
    default the service's config in `desired`)."""
    project = desired["name"]
    config = config if config is not None else desired["services"][service]
    ref = naming.service_image(project, service, config)
    labels = naming.container_labels(project, service, number, config, config_hash=naming.config_hash(config),
                                     oneoff=oneoff)
    labels[naming.IMAGE] = image_id or IMAGE_IDS.get(ref, "sha256:" + "c" * 64)
    name = name or naming.container_name(project, service, number, config)
    return ObservedContainer(id=container_id(name), name=name, status=status, labels=labels,
                             image_id=labels[naming.IMAGE], created=float(number))


def deployed(desired: dict[str, Any], *, status: str = "running", images: dict[str, str] | None = None,
             scale: dict[str, int] | None = None) -> Snapshot:
    """What a successful `up` of `desired` leaves."""
    project = desired["name"]
    containers = []
    for service, config in desired["services"].items():
        for number in range(1, naming.service_scale(config, (scale or {}).get(service)) + 1):
            containers.append(container(desired, service, number, status=status))
    networks = [ObservedNetwork(id="net-" + key, name=cfg["name"], labels=naming.network_labels(project, key, cfg))
                for key, cfg in desired.get("networks", {}).items() if not cfg.get("external")]
    volumes = [ObservedVolume(name=cfg["name"], labels=naming.volume_labels(project, key, cfg))
               for key, cfg in desired.get("volumes", {}).items() if not cfg.get("external")]
    return Snapshot(project=project, containers=tuple(containers), networks=tuple(networks),
                    volumes=tuple(volumes), images=dict(images if images is not None else IMAGE_IDS))


def empty(desired: dict[str, Any], *, images: dict[str, str] | None = None) -> Snapshot:
    """Nothing of the project exists yet; the images are present locally."""
    return Snapshot(project=desired["name"], images=dict(images if images is not None else IMAGE_IDS))


def with_containers(snapshot: Snapshot, *containers: ObservedContainer, drop: tuple[str, ...] = ()) -> Snapshot:
    kept = tuple(c for c in snapshot.containers if c.name not in drop)
    return dataclasses.replace(snapshot, containers=kept + containers)


def changed(desired: dict[str, Any], service: str, **attrs: Any) -> dict[str, Any]:
    result = copy.deepcopy(desired)
    result["services"][service].update(attrs)
    return result


DB_IMAGE = "stackup.local/db:1"
DB_IMAGE_ID = "sha256:" + "e" * 64
DB_IMAGE_VOLUMES = {DB_IMAGE: ("/var/lib/db",)}


def anonvol() -> dict[str, Any]:
    """One service with an anonymous volume of its own (`- /data`) and one from its
    image's VOLUME (/var/lib/db)."""
    return {
        "name": "anon",
        "networks": {"default": {"name": "anon_default", "ipam": {}}},
        "services": {
            "db": {"command": None, "entrypoint": None, "image": DB_IMAGE, "networks": {"default": None},
                   "environment": {"MARK": "one"},
                   "volumes": [{"type": "volume", "target": "/data", "volume": {}}]},
        },
    }


def with_anonymous_mounts(c: ObservedContainer, mounts: dict[str, str]) -> ObservedContainer:
    """`c` as the adapter labels a container that got these anonymous volumes."""
    return dataclasses.replace(c, labels=dict(c.labels, **{anonymous.MOUNTS: anonymous.encode(mounts)}))


def anonvol_deployed(desired: dict[str, Any] | None = None) -> Snapshot:
    """`anonvol()` up: db-1 with volumes v-data at /data and v-db at /var/lib/db."""
    desired = desired or anonvol()
    base = deployed(desired, images={DB_IMAGE: DB_IMAGE_ID})
    db = with_anonymous_mounts(container(desired, "db", 1, image_id=DB_IMAGE_ID),
                               {"/data": "v-data", "/var/lib/db": "v-db"})
    return dataclasses.replace(base, containers=(db,), image_volumes=dict(DB_IMAGE_VOLUMES))
