"""Platforms (os/architecture/variant) as OCI names them, and the host's own."""

from __future__ import annotations

import os
from dataclasses import dataclass

from stackup.errors import UserError

# uname -m -> (GOARCH, variant)
_MACHINES = {
    "x86_64": ("amd64", ""), "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"), "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
    "i386": ("386", ""), "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
}


@dataclass(frozen=True)
class Platform:
    """An OCI platform: os, architecture and (arm) variant."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, descriptor_platform: dict | None) -> bool:
        """Whether an index entry's `platform` runs here (variant only checked when both name one)."""
        if not descriptor_platform:
            return False
        if descriptor_platform.get("os") != self.os:
            return False
        if descriptor_platform.get("architecture") != self.architecture:
            return False
        variant = descriptor_platform.get("variant") or ""
        if self.architecture == "arm64":  # v8 is arm64's only variant and often omitted
            return variant in ("", "v8")
        return not self.variant or not variant or variant == self.variant


def host() -> Platform:
    machine = os.uname().machine  # what platform.machine() says, without its imports
    arch, variant = _MACHINES.get(machine, (machine, ""))
    return Platform("linux", arch, variant)


def parse(text: str) -> Platform:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UserError(f"invalid platform {text!r} (expected os/arch[/variant], e.g. linux/amd64)")
    return Platform(*parts)
