"""The runtime part of an image config (OCI `config` object) and `--change` instructions.

ImageConfig holds what a container needs from its image. It is read from and
written to the OCI/Docker JSON form (Env, Cmd, Entrypoint, WorkingDir, ...).
`apply_changes` applies Dockerfile-style instructions, as `docker import --change` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stackup.errors import UserError
from stackup.units import parse_duration


@dataclass
class ImageConfig:
    """The parts of an image's config a container uses (OCI/Docker config fields)."""

    env: list[str] = field(default_factory=list)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    working_dir: str = ""
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)  # "80/tcp"
    volumes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    healthcheck: dict | None = None  # Docker's form: Test, Interval, Timeout, StartPeriod, Retries (ns)

    @classmethod
    def from_oci(cls, cfg: dict[str, Any] | None) -> ImageConfig:
        cfg = cfg or {}
        return cls(
            env=list(cfg.get("Env") or []),
            cmd=list(cfg["Cmd"]) if cfg.get("Cmd") is not None else None,
            entrypoint=list(cfg["Entrypoint"]) if cfg.get("Entrypoint") is not None else None,
            working_dir=cfg.get("WorkingDir") or "",
            user=cfg.get("User") or "",
            exposed_ports=sorted(cfg.get("ExposedPorts") or {}),
            volumes=sorted(cfg.get("Volumes") or {}),
            labels=dict(cfg.get("Labels") or {}),
            stop_signal=cfg.get("StopSignal") or None,
            healthcheck=dict(cfg["Healthcheck"]) if cfg.get("Healthcheck") else None,
        )

    def to_oci(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.env:
            out["Env"] = list(self.env)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.healthcheck:
            out["Healthcheck"] = dict(self.healthcheck)
        return out

    def env_dict(self) -> dict[str, str]:
        return {name: value for name, _, value in (item.partition("=") for item in self.env)}


# --- --change instructions -----------------------------------------------------------

def _command(args: str, where: str) -> list[str]:
    """JSON (exec) form stays as is; shell form runs under /bin/sh -c."""
    args = args.strip()
    if args.startswith("["):
        try:
            value = json.loads(args)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    if not args:
        raise UserError(f"{where}: needs a command")
    return ["/bin/sh", "-c", args]


def _pairs(args: str, where: str, legacy: bool) -> list[tuple[str, str]]:
    """KEY=VALUE pairs (quotes allowed), or the legacy 'KEY VALUE' form."""
    import shlex  # only `--change` / Dockerfile instructions need it

    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise UserError(f"{where}: {exc}") from None
    if not words:
        raise UserError(f"{where}: needs at least one KEY=VALUE")
    if legacy and "=" not in words[0]:
        key, _, value = args.strip().partition(" ")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise UserError(f"{where}: {word!r} is not KEY=VALUE")
        pairs.append((key, value))
    return pairs


def _healthcheck(args: str, where: str) -> dict | None:
    words = args.split()
    if words and words[0].upper() == "NONE":
        return {"Test": ["NONE"]}
    check: dict[str, Any] = {}
    options = {"--interval": "Interval", "--timeout": "Timeout", "--start-period": "StartPeriod",
               "--start-interval": "StartInterval", "--retries": "Retries"}
    rest = args.strip()
    while rest.startswith("--"):
        opt, _, rest = rest.partition(" ")
        name, eq, value = opt.partition("=")
        if name not in options or not eq:
            raise UserError(f"{where}: unknown HEALTHCHECK option {opt!r}")
        if name == "--retries":
            if not value.isdigit():
                raise UserError(f"{where}: --retries must be a whole number, not {value!r}")
            check["Retries"] = int(value)
        else:
            check[options[name]] = parse_duration(value, where)
            if check[options[name]] < 0:
                raise UserError(f"{where}: {name} must not be negative")
        rest = rest.lstrip()
    kind, _, command = rest.partition(" ")
    if kind.upper() != "CMD":
        raise UserError(f"{where}: HEALTHCHECK needs CMD <command> or NONE")
    cmd = _command(command, where)
    check["Test"] = (["CMD"] + cmd) if command.strip().startswith("[") else ["CMD-SHELL", command.strip()]
    return check


def apply_change(config: ImageConfig, change: str) -> None:
    """Apply one Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ...) to `config`."""
    where = f"--change {change!r}"
    instruction, _, args = change.strip().partition(" ")
    if not instruction:
        raise UserError(f"{where}: empty instruction")
    if "\n" in args:
        raise UserError(f"{where}: instructions must be on one line")
    op = instruction.upper()
    args = args.strip()
    if op == "CMD":
        config.cmd = _command(args, where)
    elif op == "ENTRYPOINT":
        config.entrypoint = _command(args, where)
    elif op == "ENV":
        env = config.env_dict()
        for key, value in _pairs(args, where, legacy=True):
            env[key] = value
        config.env = [f"{k}={v}" for k, v in env.items()]
    elif op == "LABEL":
        for key, value in _pairs(args, where, legacy=False):
            config.labels[key] = value
    elif op == "EXPOSE":
        if not args:
            raise UserError(f"{where}: needs at least one port")
        for port in args.split():
            number, _, proto = port.partition("/")
            proto = (proto or "tcp").lower()
            if not number.isdigit() or not 0 < int(number) < 65536 or proto not in ("tcp", "udp", "sctp"):
                raise UserError(f"{where}: invalid port {port!r} (expected e.g. 80 or 53/udp)")
            entry = f"{int(number)}/{proto}"
            if entry not in config.exposed_ports:
                config.exposed_ports.append(entry)
        config.exposed_ports.sort()
    elif op == "VOLUME":
        paths = _command(args, where) if args.startswith("[") else args.split()
        if args.startswith("[") and paths[:2] == ["/bin/sh", "-c"]:
            raise UserError(f"{where}: VOLUME needs paths")
        if not paths:
            raise UserError(f"{where}: needs at least one path")
        config.volumes = sorted(set(config.volumes) | set(paths))
    elif op == "WORKDIR":
        if not args:
            raise UserError(f"{where}: needs a path")
        config.working_dir = args if args.startswith("/") else f"{config.working_dir.rstrip('/')}/{args}"
    elif op == "USER":
        if not args or " " in args:
            raise UserError(f"{where}: needs one user[:group]")
        config.user = args
    elif op == "STOPSIGNAL":
        if not args or " " in args:
            raise UserError(f"{where}: needs one signal name or number")
        config.stop_signal = args
    elif op == "HEALTHCHECK":
        config.healthcheck = _healthcheck(args, where)
    else:
        raise UserError(f"{where}: {instruction} is not allowed here (CMD, ENTRYPOINT, ENV, EXPOSE, "
                        "HEALTHCHECK, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR are)")


def apply_changes(config: ImageConfig, changes: list[str] | tuple[str, ...]) -> ImageConfig:
    for change in changes:
        apply_change(config, change)
    return config
