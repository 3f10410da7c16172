"""Anonymous volumes: which container paths get one, and which survive a recreate.

A service container gets an anonymous volume at every stack-file volume without a
source (`volumes: ["/data"]`) and at every `VOLUME` path of its image that no
service mount (volume, bind or tmpfs) covers. The container records them in the
label `MOUNTS` (container path -> volume name), so that a later `up` (pure, from
labels alone) can hand them on.

On a recreate, docker compose gives the new container the old one's volume at
each such path (compose's `buildContainerMountOptions` with the replaced
container as `inherit`), unless `up -V/--renew-anon-volumes`; it removes the old
container without its volumes, so an old anonymous volume the new container does
not use is left behind (stackup labels it with the project: `down -v` removes it).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from stackup.project import naming

# On a container: JSON object {container path: volume name} of its anonymous volumes.
MOUNTS = naming.PREFIX + "anonymous-mounts"


def normalize(path: str) -> str:
    """A container path as mounts are compared: absolute, normalized (a relative
    image VOLUME is taken from /)."""
    return posixpath.normpath("/" + str(path).lstrip("/"))


def _tmpfs_targets(config: Mapping[str, Any]) -> list[str]:
    tmpfs = config.get("tmpfs") or []
    if isinstance(tmpfs, str):
        tmpfs = [tmpfs]
    return [normalize(str(t).split(":", 1)[0]) for t in tmpfs]


def sourceless(mount: Any) -> bool:
    """A stack-file volume mount without a source: an anonymous volume."""
    return isinstance(mount, Mapping) and mount.get("type") == "volume" and not mount.get("source")


def uncovered_image_volumes(config: Mapping[str, Any], image_volumes: Iterable[str]) -> list[str]:
    """The image's VOLUME paths that none of the service's mounts or tmpfs covers, sorted."""
    covered = {normalize(m.get("target") or "") for m in config.get("volumes") or [] if isinstance(m, Mapping)}
    covered.update(_tmpfs_targets(config))
    return sorted({normalize(v) for v in image_volumes} - covered)


def targets(config: Mapping[str, Any], image_volumes: Iterable[str]) -> list[str]:
    """Every container path that gets an anonymous volume, sorted."""
    own = {normalize(m.get("target") or "") for m in config.get("volumes") or [] if sourceless(m)}
    return sorted(own | set(uncovered_image_volumes(config, image_volumes)))


def encode(mounts: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(mounts.items())), separators=(",", ":"))


def mounts_of(labels: Mapping[str, str]) -> dict[str, str]:
    """A container's anonymous volumes by container path, from its labels (empty for
    a container made before the label existed: nothing to hand on)."""
    try:
        value = json.loads(labels.get(MOUNTS) or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str) and v}


def inherited(old_labels: Mapping[str, str], new_targets: Iterable[str]) -> dict[str, str]:
    """Compose's rule: each path of the new container that gets an anonymous volume
    takes the old container's anonymous volume at the same path, if it had one."""
    old = mounts_of(old_labels)
    return {t: old[t] for t in sorted(set(new_targets)) if t in old}
