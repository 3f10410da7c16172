"""Volumes: named volumes kept under $STACKUP_ROOT, bind mounts and tmpfs.

A named volume is a directory `$STACKUP_ROOT/volumes/<name>/_data` with its
labels in `meta.json`. `resolve_mounts` turns a container's compose-style mount
specs (short strings, read by `stackup.shortsyntax`, or long mappings, plus
`tmpfs:` entries) into `ResolvedMount`s, which become the runtime's `Mount`s: binds (named
volumes are binds of their data directory) and tmpfs. Named volumes are created on first use; an empty one is
first filled with the image's content at the mount point (unless `nocopy`).
Which containers use a volume is recorded here (the container layer may also
register a callable that answers it), so a volume in use is not removed
without force.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stackup.engine import checkedjson, notices, state, volumemounts
from stackup.engine.network.store import labels_match
from stackup.errors import ConflictError, NotFoundError, UnsupportedError, UserError
from stackup.shortsyntax import PROPAGATIONS, parse_volume
from stackup.units import parse_bytes

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
UNFINISHED = ".creating-"  # a volume's folder while it is made (see create_volume)

_in_use_provider: Callable[[str], list[str]] | None = None


@dataclass
class ResolvedMount:
    """One mount for the runtime: `bind` (source is a host path) or `tmpfs`."""

    type: str
    source: str
    target: str
    options: list[str] = field(default_factory=list)
    read_only: bool = False
    volume: str | None = None  # the named volume this bind comes from

    def to_json(self) -> dict:
        return asdict(self)

    def as_runtime(self) -> dict[str, Any]:
        """The runtime's Mount fields (runtime/spec.py): options as a dict (tmpfs: size, mode)."""
        opts: dict[str, Any] = {}
        for opt in self.options:
            key, eq, value = opt.partition("=")
            if eq and key in ("size", "mode"):
                opts[key] = int(value) if key == "size" else value
            elif key in PROPAGATIONS:
                opts["propagation"] = key
        return {"type": self.type, "target": self.target,
                "source": self.source if self.type == "bind" else "",
                "read_only": self.read_only, "options": opts}


# ---------------------------------------------------------------- named volumes

def volumes_dir() -> Path:
    return state.root() / "volumes"


def _meta_path(name: str) -> Path:
    return volumes_dir() / name / "meta.json"


def data_path(name: str) -> Path:
    return volumes_dir() / name / "_data"


def meta_problem(meta: object) -> str:
    return checkedjson.object_with({"name": (str,), "users": (list,)},
                                   {"labels": (dict,), "driver": (str,), "options": (dict,)}, meta)


def _read_meta(name: str) -> dict | None:
    """The volume's record; None when it has none. A damaged one is set aside: the volume
    is then as if it had no record, its data kept, and the next `create_volume` (the next
    `up`) writes a new record over the same data."""
    return state.load_json(_meta_path(name), meta_problem, f"volume {name}'s record")


@contextlib.contextmanager
def _lock():
    with state.locked(volumes_dir() / ".lock"):
        yield


def _validate_name(name: str) -> None:
    if not NAME_RE.match(name or ""):
        raise UserError(f"invalid volume name {name!r}: use at least two of letters, digits, "
                        "'_', '.', '-', starting with a letter or digit")


def create_volume(name: str | None = None, *, labels: Mapping[str, str] | None = None,
                  driver: str = "local", driver_opts: Mapping[str, str] | None = None,
                  anonymous: bool = False) -> dict:
    """Create a named volume (a random name when none); an existing one is returned as is."""
    if (driver or "local") != "local":
        raise UnsupportedError(f"volume {name}: driver {driver!r} is not supported (only local)")
    if name is None:
        import secrets  # only anonymous volumes need a random name

        name, anonymous = secrets.token_hex(32), True
    _validate_name(name)
    options = volumemounts.check_options(name, driver_opts or {})
    with _lock():
        existing = _read_meta(name)
        if existing:
            return existing
        meta = {"name": name, "driver": "local", "labels": dict(labels or {}), "options": options,
                "anonymous": anonymous, "mountpoint": str(data_path(name)), "users": [],
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat()}
        _collect_unfinished()
        if (volumes_dir() / name).exists():
            # its record is missing (an older version killed in between): the data is kept
            data_path(name).mkdir(parents=True, exist_ok=True, mode=0o755)
            state.atomic_write_json(_meta_path(name), meta)
            return meta
        # made whole aside, then renamed into place: a kill leaves no volume or all of it
        staging = volumes_dir() / f"{UNFINISHED}{name}"
        (staging / "_data").mkdir(parents=True, mode=0o755)
        state.atomic_write_json(staging / "meta.json", meta)
        os.rename(staging, volumes_dir() / name)
        return meta


def _collect_unfinished() -> None:
    """Remove what killed creates left aside (call under the lock: no create is under way)."""
    for path in volumes_dir().glob(f"{UNFINISHED}*"):
        shutil.rmtree(path, ignore_errors=True)
        notices.repaired(f"volume {path.name[len(UNFINISHED):]}: removed what an interrupted create made")


def get_volume(name: str) -> dict:
    meta = _read_meta(name) if NAME_RE.match(name or "") else None
    if not meta:
        raise NotFoundError(f"volume {name} not found")
    meta["in_use_by"] = in_use(name)
    return meta


def list_volumes() -> list[dict]:
    d = volumes_dir()
    if not d.is_dir():
        return []
    folders = sorted(p for p in d.iterdir() if p.is_dir())
    if any(p.name.startswith(UNFINISHED) for p in folders):
        with state.try_locked(d / ".lock") as alone:
            if alone:  # no create under way: these are what killed ones left
                _collect_unfinished()
    out = [_read_meta(p.name) for p in folders if not p.name.startswith(".")]
    return [m for m in out if m]


def register_in_use(provider: Callable[[str], list[str]] | None) -> None:
    """Let the container layer answer "which containers use this volume?" (ids)."""
    global _in_use_provider
    _in_use_provider = provider


def in_use(name: str) -> list[str]:
    if _in_use_provider is not None:  # it knows every container (the CLI registers the runtime)
        return list(_in_use_provider(name))
    meta = _read_meta(name) or {}
    return list(meta.get("users", []))


def remove_volume(name: str, force: bool = False) -> None:
    """Remove a volume and its data; refused while a container uses it unless `force`."""
    get_volume(name)
    with _lock():
        users = in_use(name)
        if users and not force:
            raise ConflictError(f"volume {name} is in use by container(s) "
                                f"{', '.join(u[:12] for u in users)} (use -f to remove anyway)")
        # never a recursive removal through a mount: a bind volume's folder is the user's
        volumemounts.unmount(name, data_path(name))
        shutil.rmtree(volumes_dir() / name)


def prune_volumes(all_volumes: bool = False,
                  label_filters: Mapping[str, str | None] | None = None) -> list[str]:
    """Remove unused volumes (anonymous ones only unless `all_volumes`); their names."""
    removed = []
    for meta in list_volumes():
        if not all_volumes and not meta.get("anonymous"):
            continue
        if not labels_match(meta.get("labels", {}), label_filters):
            continue
        if in_use(meta["name"]):
            continue
        with contextlib.suppress(NotFoundError, ConflictError):
            remove_volume(meta["name"])
            removed.append(meta["name"])
    return removed


def add_user(name: str, container_id: str | None) -> None:
    """Record that a container uses the volume (so `rm` refuses it without force)."""
    _add_user(name, container_id)


def _add_user(name: str, container_id: str | None) -> None:
    if not container_id:
        return
    with _lock():
        meta = _read_meta(name)
        if meta and container_id not in meta["users"]:
            meta["users"].append(container_id)
            state.atomic_write_json(_meta_path(name), meta)


def release(container_id: str) -> list[str]:
    """The container no longer uses its volumes (it was removed); their names."""
    released = []
    with _lock():
        for meta in list_volumes():
            if container_id in meta.get("users", []):
                meta["users"].remove(container_id)
                state.atomic_write_json(_meta_path(meta["name"]), meta)
                released.append(meta["name"])
    return released


def named_in(sources: Iterable[str]) -> list[str]:
    """The named volumes among bind sources (their `_data` folders, or a subpath of one)."""
    base = str(volumes_dir()) + "/"
    names = set()
    for source in sources:
        if source.startswith(base):
            name, _, rest = source[len(base):].partition("/")
            if rest == "_data" or rest.startswith("_data/"):
                names.add(name)
    return sorted(names)


def mount_for(container_id: str, names: Iterable[str]) -> None:
    """A container using these volumes starts: mount those with driver options that no
    running container holds yet (the local driver's first use)."""
    for name in sorted(set(names)):
        with _lock():
            meta = _read_meta(name)
            if not meta or not meta.get("options"):
                continue
            holders = [h for h in meta.get("mounted_by") or [] if h != container_id]
            if not volumemounts.is_mounted(data_path(name)):
                volumemounts.mount(name, meta["options"], data_path(name))
            meta["mounted_by"] = [*holders, container_id]
            state.atomic_write_json(_meta_path(name), meta)


def unmount_for(container_id: str) -> list[str]:
    """The container stopped: unmount the driver-option volumes it was the last to hold;
    their names."""
    done: list[str] = []
    d = volumes_dir()
    if not d.is_dir():
        return done
    for folder in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
        meta = _read_meta(folder.name)
        if not meta or container_id not in (meta.get("mounted_by") or []):
            continue
        with _lock():
            meta = _read_meta(folder.name) or {}
            holders = [h for h in meta.get("mounted_by") or [] if h != container_id]
            if not holders:
                volumemounts.unmount(folder.name, data_path(folder.name))
                done.append(folder.name)
            meta["mounted_by"] = holders
            state.atomic_write_json(_meta_path(folder.name), meta)
    return done


def copy_up(name: str, source: Path) -> bool:
    """Fill the volume with `source`'s contents if the volume is empty; True when copied."""
    dest = data_path(name)
    if not source.is_dir() or any(dest.iterdir()):
        return False
    if not any(source.iterdir()):
        return False
    # cp -a keeps owners, modes, times, links and special files, as the image has them.
    subprocess.run(["cp", "-a", "--", f"{source}/.", str(dest)], check=True, capture_output=True)
    st = source.stat()
    os.chown(dest, st.st_uid, st.st_gid)
    os.chmod(dest, st.st_mode & 0o7777)
    return True


# ---------------------------------------------------------------- mount specs

MOUNT_FLAG_KEYS = {
    "type": "type", "source": "source", "src": "source", "target": "target", "dst": "target",
    "destination": "target", "readonly": "read_only", "ro": "read_only",
    "volume-nocopy": "nocopy", "volume-subpath": "subpath", "bind-propagation": "propagation",
    "bind-create-host-path": "create_host_path", "tmpfs-size": "size", "tmpfs-mode": "mode",
}


def parse_mount_flag(text: str) -> dict:
    """Docker's `--mount type=bind,source=/a,target=/b,readonly` into the long form."""
    fields: dict[str, str] = {}
    for item in [i for i in text.split(",") if i]:
        key, eq, value = item.partition("=")
        if key not in MOUNT_FLAG_KEYS:
            raise UserError(f"--mount {text!r}: unknown field {key!r}")
        fields[MOUNT_FLAG_KEYS[key]] = value if eq else "true"
    truthy = {"true", "1", "yes", ""}
    long: dict = {"type": fields.get("type", "volume"), "target": fields.get("target", "")}
    if fields.get("source"):
        long["source"] = fields["source"]
    long["read_only"] = fields.get("read_only", "false").lower() in truthy
    if long["type"] == "bind":
        long["bind"] = {"create_host_path": fields.get("create_host_path", "false").lower() in truthy}
        if "propagation" in fields:
            long["bind"]["propagation"] = fields["propagation"]
    elif long["type"] == "volume":
        long["volume"] = {"nocopy": fields.get("nocopy", "false").lower() in truthy}
        if "subpath" in fields:
            long["volume"]["subpath"] = fields["subpath"]
    elif long["type"] == "tmpfs":
        long["tmpfs"] = {k: fields[k] for k in ("size", "mode") if k in fields}
    return long


def parse_tmpfs(spec: str | Mapping) -> dict:
    """A `tmpfs:` entry (`/run` or `/run:size=64m,mode=1777`) into the long form."""
    if isinstance(spec, Mapping):
        return dict(spec)
    target, _, opts = str(spec).partition(":")
    tmpfs: dict = {}
    extra = []
    for opt in [o for o in opts.split(",") if o]:
        key, _, value = opt.partition("=")
        if key == "size":
            tmpfs["size"] = value
        elif key == "mode":
            tmpfs["mode"] = value
        elif key in ("ro", "rw", "noexec", "exec", "nosuid", "suid", "nodev", "dev"):
            extra.append(key)
        else:
            raise UserError(f"tmpfs: {spec!r}: unsupported option {opt!r}")
    return {"type": "tmpfs", "target": target, "tmpfs": tmpfs, "read_only": "ro" in extra,
            "_extra": extra}


def _mode(value: str | int, where: str) -> int:
    try:
        mode = value if isinstance(value, int) else int(str(value), 8)
    except ValueError:
        raise UserError(f"{where}: mode {value!r} is not an octal number like 1777") from None
    if not 0 <= mode <= 0o7777:
        raise UserError(f"{where}: mode {value!r} is out of range")
    return mode


def resolve_mounts(specs: Iterable[str | Mapping] = (), *, tmpfs: Iterable[str | Mapping] = (),
                   container_id: str | None = None, image_root: Path | None = None,
                   image_layers: Iterable[str | Path] = ()) -> list[ResolvedMount]:
    """Compose mount specs into the runtime's Mounts (named volumes created on first use).

    `image_root`: the image's root filesystem, for filling empty named volumes; or
    `image_layers` (base first): the topmost layer holding the target is copied.
    Everything is validated before any volume is created.
    """
    longs = [parse_volume(s, strict=True) if isinstance(s, str) else dict(s) for s in specs]
    longs += [parse_tmpfs(t) for t in tmpfs]
    targets: set[str] = set()
    for long in longs:
        _check(long, targets)
    layers = [Path(p) for p in image_layers]
    return [_resolve(long, container_id, image_root if image_root is not None
                     else _layer_with(layers, long["target"])) for long in longs]


def _layer_with(layers: list[Path], target: str) -> Path | None:
    """The topmost layer that has `target` as a directory (whose content the image shows)."""
    rel = os.path.normpath(target).lstrip("/")
    for layer in reversed(layers):
        if (layer / rel).is_dir():
            return layer
    return None


def _check(long: dict, targets: set[str]) -> None:
    kind = long.get("type")
    target = long.get("target") or ""
    where = f"mount {target or long!r}"
    if kind not in ("volume", "bind", "tmpfs"):
        raise UnsupportedError(f"{where}: type {kind!r} is not supported (volume, bind, tmpfs)")
    if not target.startswith("/"):
        raise UserError(f"{where}: the target must be an absolute path in the container")
    if os.path.normpath(target) in targets:
        raise UserError(f"{where}: two mounts on the same target")
    targets.add(os.path.normpath(target))
    source = long.get("source")
    if kind == "bind":
        if not source or not str(source).startswith("/"):
            raise UserError(f"{where}: bind source {source!r} must be an absolute host path")
        prop = (long.get("bind") or {}).get("propagation")
        if prop and prop not in PROPAGATIONS:
            raise UserError(f"{where}: propagation {prop!r} must be one of {', '.join(PROPAGATIONS)}")
    elif kind == "volume" and source:
        _validate_name(source)
    elif kind == "tmpfs":
        opts = long.get("tmpfs") or {}
        if "size" in opts:
            parse_bytes(opts["size"], where)
        if "mode" in opts:
            _mode(opts["mode"], where)


def _resolve(long: dict, container_id: str | None, image_root: Path | None) -> ResolvedMount:
    kind, target = long["type"], os.path.normpath(long["target"])
    ro = bool(long.get("read_only"))
    ro_opt = ["ro"] if ro else []
    where = f"mount {target}"
    if kind == "tmpfs":
        opts = long.get("tmpfs") or {}
        options = ["nosuid", "nodev"] + [o for o in long.get("_extra", []) if o not in ("ro", "rw")]
        if "size" in opts:
            options.append(f"size={parse_bytes(opts['size'], where)}")
        options.append(f"mode={_mode(opts.get('mode', '1777'), where):o}")
        return ResolvedMount("tmpfs", "tmpfs", target, options + ro_opt, ro)
    if kind == "bind":
        source = Path(os.path.normpath(long["source"]))
        bind = long.get("bind") or {}
        if not source.exists():
            if not bind.get("create_host_path"):
                raise NotFoundError(f"{where}: bind source {source} does not exist "
                                    "(create it, or set bind.create_host_path)")
            source.mkdir(parents=True, exist_ok=True)
        propagation = bind.get("propagation") or "rprivate"
        if propagation in ("rslave", "slave") and not volumemounts.receives_mounts(source):
            raise UserError(f"{where}: bind.propagation {propagation}: {source} is on a private mount, "
                            "from which no mount propagates (make it shared: mount --make-rshared)")
        options = ["rbind", propagation] + ro_opt
        return ResolvedMount("bind", str(source), target, options, ro)
    meta = create_volume(long.get("source") or None)
    name = meta["name"]
    vol = long.get("volume") or {}
    # a volume on a device is only mounted when its container starts: nothing is copied
    if image_root is not None and not vol.get("nocopy") and not vol.get("subpath") and not meta.get("options"):
        copy_up(name, Path(image_root) / target.lstrip("/"))
    source = data_path(name)
    if vol.get("subpath"):
        source = _subpath(name, str(vol["subpath"]), where)
    _add_user(name, container_id)
    return ResolvedMount("bind", str(source), target, ["rbind", "rprivate"] + ro_opt, ro, volume=name)


def _subpath(name: str, subpath: str, where: str) -> Path:
    base = data_path(name).resolve()
    path = (base / subpath.lstrip("/")).resolve()
    if path != base and base not in path.parents:
        raise UserError(f"{where}: subpath {subpath!r} leaves the volume")
    if not path.exists():
        raise NotFoundError(f"{where}: subpath {subpath!r} does not exist in volume {name}")
    return path
