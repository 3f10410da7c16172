"""The local volume driver's options: a named volume whose `_data` is a mount of
something else, as Docker's `local` driver makes them (`driver_opts: type, o, device`,
handed to mount(8) as `mount -t TYPE -o O DEVICE <_data>`):

- `type: none, o: bind, device: /path`: the volume lives in a folder the user chose;
- `type: tmpfs, o: size=64m,mode=0750` (device `tmpfs`): in memory;
- `type: nfs, o: addr=HOST,..., device: ":/export"`: an NFS export (mount(8) needs the
  `mount.nfs` helper, Debian's nfs-common).

As in Docker the mount is made when the first container using the volume starts and
taken away when the last of them stops; the containers holding it are kept in the
volume's record (`mounted_by`), so any command that stops one can unmount it. Without
options a volume is a plain folder and none of this happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from stackup.errors import NotFoundError, StackupError, UserError

KEYS = ("type", "o", "device")


def check_options(name: str, opts: Mapping[str, object]) -> dict[str, str]:
    """The driver options as strings; a UserError naming what is wrong (pure)."""
    out = {str(k): str(v) for k, v in opts.items()}
    unknown = sorted(set(out) - set(KEYS))
    if unknown:
        raise UserError(f"volume {name}: driver_opts {', '.join(unknown)} not known to the local "
                        f"driver (type, o, device)")
    if not out:
        return out
    if not out.get("type"):
        raise UserError(f"volume {name}: driver_opts needs a type (none with o: bind, tmpfs, nfs, ...)")
    if out["type"] == "none" and "bind" not in options_of(out) and "rbind" not in options_of(out):
        raise UserError(f"volume {name}: driver_opts type none needs o: bind (and a device folder)")
    if out["type"] != "tmpfs" and not out.get("device"):
        raise UserError(f"volume {name}: driver_opts type {out['type']} needs a device")
    if "bind" in options_of(out) and not out["device"].startswith("/"):
        raise UserError(f"volume {name}: driver_opts device {out['device']!r} must be an absolute path")
    return out


def options_of(opts: Mapping[str, str]) -> list[str]:
    return [o.strip() for o in opts.get("o", "").split(",") if o.strip()]


def mount_command(opts: Mapping[str, str], target: Path) -> list[str]:
    """mount(8)'s command line for the options (pure)."""
    cmd = ["mount", "-t", opts["type"]]
    if opts.get("o"):
        cmd += ["-o", opts["o"]]
    return cmd + ["--", opts.get("device") or opts["type"], str(target)]


def is_mounted(path: Path) -> bool:
    """Whether `path` is a mount point (in this mount namespace)."""
    target = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(_unescape(line.split()[4]) == target for line in f)


def receives_mounts(path: Path) -> bool:
    """Whether the mount holding `path` is shared or a slave (so that mounts made below it
    on the host can propagate to a bind of it), as Docker checks for slave propagation."""
    target, best, tags = os.path.realpath(path), "", ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = _unescape(fields[4])
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, tags = point, " ".join(fields[6:fields.index("-")])
    return "shared:" in tags or "master:" in tags


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mount(name: str, opts: Mapping[str, str], target: Path) -> None:
    """Mount the volume's device on `target` (its `_data`); an error saying what and why."""
    if "bind" in options_of(opts) and not Path(opts["device"]).is_dir():
        raise NotFoundError(f"volume {name}: its device folder {opts['device']} does not exist")
    tool = shutil.which("mount") or "/bin/mount"
    proc = subprocess.run([tool, *mount_command(opts, target)[1:]], capture_output=True, text=True)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        hint = ""
        if opts["type"].startswith("nfs") and not Path(f"/sbin/mount.{opts['type']}").exists():
            hint = f" (mount.{opts['type']} is missing: install nfs-common)"
        raise StackupError(f"volume {name}: cannot mount {opts['type']} {opts.get('device', '')}: {why}{hint}")


def unmount(name: str, target: Path) -> None:
    """Unmount the volume's `_data` (lazily, so a process still inside cannot keep it)."""
    if not is_mounted(target):
        return
    proc = subprocess.run([shutil.which("umount") or "/bin/umount", "-l", "--", str(target)],
                          capture_output=True, text=True)
    if proc.returncode != 0 and is_mounted(target):
        raise StackupError(f"volume {name}: cannot unmount {target}: {proc.stderr.strip()}")
