"""Host devices given to a container (`--device`), as Docker finds them.

`from_host` stats the host's node at create (a folder: every node below it, at the
same place under the container path) and records what the container's node is made
from (`spec.Device`); the node is made in the container's /dev by the root file system
plan, and the device cgroup allows it (v1; see `cgroups`).
"""

from __future__ import annotations

import os
import stat

from stackup.engine.runtime.spec import Device
from stackup.errors import UserError


def _device(path: str, target: str, permissions: str) -> Device | None:
    info = os.stat(path)
    if stat.S_ISCHR(info.st_mode):
        kind = "c"
    elif stat.S_ISBLK(info.st_mode):
        kind = "b"
    else:
        return None
    return Device(path=target, type=kind, major=os.major(info.st_rdev), minor=os.minor(info.st_rdev),
                  file_mode=stat.S_IMODE(info.st_mode), uid=info.st_uid, gid=info.st_gid,
                  permissions=permissions)


def from_host(host: str, target: str, permissions: str) -> list[Device]:
    """The devices of one `--device HOST:TARGET:PERMISSIONS`; UserError naming the
    path when it is neither a device nor a folder of devices."""
    try:
        info = os.stat(host)
    except OSError as exc:
        raise UserError(f"device {host}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        device = _device(host, target, permissions)
        if device is None:
            raise UserError(f"device {host} is not a character or block device")
        return [device]
    found = []
    for folder, _dirs, files in os.walk(host):
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                device = _device(path, os.path.join(target, os.path.relpath(path, host)), permissions)
            except OSError:
                continue  # gone meanwhile, or a dangling link: skipped, as Docker does
            if device is not None:
                found.append(device)
    return found
