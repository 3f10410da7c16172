"""Where a pull fetches an image from: mirrors and redirections, as containers-registries.conf(5).

The settings are a TOML file, `$STACKUP_REGISTRIES_CONF` or /etc/stackup/registries.conf:

    [[registry]]
    prefix = "docker.io"                # which names this table is for (longest match wins)
    location = "docker.io"              # where those names really live (default: the prefix)
    insecure = false                    # plain HTTP allowed (after HTTPS failed)
    blocked = false                     # refuse pulls of these names
    mirror-by-digest-only = false       # use the mirrors only for name@digest pulls
    mirror-only = false                 # stackup's own: never fall back to `location`

    [[registry.mirror]]
    location = "127.0.0.1:5000/hub"     # host[:port][/namespace...]
    insecure = true
    pull-from-mirror = "all"            # or "digest-only", "tag-only"

A name matching a prefix is rewritten for each place by swapping the prefix for that
place's location: with the table above, docker.io/library/debian:bookworm is fetched as
127.0.0.1:5000/hub/library/debian:bookworm, then (unless mirror-only) from Docker Hub.
The image is stored under the name that was asked for, whichever place served it.
A prefix may also be a wildcard host, `*.example.com`, which matches its subdomains.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackup.engine.images.reference import DEFAULT_REGISTRY, DOMAIN_RE, PATH_RE, Reference
from stackup.errors import UserError

CONF_ENV = "STACKUP_REGISTRIES_CONF"
DEFAULT_CONF = Path("/etc/stackup/registries.conf")
PULL_FROM = ("all", "digest-only", "tag-only")

_REGISTRY_KEYS = {"prefix", "location", "insecure", "blocked", "mirror-by-digest-only", "mirror-only",
                  "mirror"}
_MIRROR_KEYS = {"location", "insecure", "pull-from-mirror"}


@dataclass(frozen=True)
class Mirror:
    location: str
    insecure: bool = False
    pull_from: str = "all"


@dataclass(frozen=True)
class RegistryRule:
    """One [[registry]] table."""

    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirror_by_digest_only: bool = False
    mirror_only: bool = False
    mirrors: tuple[Mirror, ...] = ()

    def match_length(self, name: str) -> int:
        """How much of `name` (registry/repository[:tag][@digest]) this prefix matches; -1: none."""
        if self.prefix.startswith("*."):
            host = name.split("/", 1)[0]
            return len(self.prefix) if host.endswith(self.prefix[1:]) else -1
        if not name.startswith(self.prefix):
            return -1
        rest = name[len(self.prefix):]
        return len(self.prefix) if rest == "" or rest[0] in "/:@" else -1

    def rewrite(self, name: str, location: str) -> str:
        """`name` with this table's prefix swapped for `location`."""
        if location == self.prefix:  # (a wildcard's own location is the host that matched)
            return name
        if self.prefix.startswith("*."):
            return location + name[len(name.split("/", 1)[0]):]
        return location + name[len(self.prefix):]


@dataclass(frozen=True)
class Source:
    """One place to try: the reference as that place knows it, and how to reach it."""

    reference: Reference
    insecure: bool = False
    mirror: bool = False
    endpoint: str | None = None  # a URL with its scheme (daemon.json-style mirrors), else None

    def describe(self) -> str:
        return self.endpoint or self.reference.registry


@dataclass(frozen=True)
class RegistriesConf:
    path: str = ""
    rules: tuple[RegistryRule, ...] = field(default_factory=tuple)

    def rule_for(self, ref: Reference) -> RegistryRule | None:
        name = full_name(ref)
        best, length = None, -1
        for rule in self.rules:
            n = rule.match_length(name)
            if n > length:
                best, length = rule, n
        return best

    def sources(self, ref: Reference, hub_mirrors: Sequence[str] = ()) -> list[Source]:
        """The places to pull `ref` from, in order: its mirrors, then where it lives.

        `hub_mirrors` are daemon.json-style Docker Hub mirrors (URLs, no path): the mirrors
        of docker.io names that no table of this file matches."""
        rule = self.rule_for(ref)
        if rule is None:
            sources = [Source(ref, endpoint=url, mirror=True) for url in hub_mirrors] \
                if ref.registry == DEFAULT_REGISTRY else []
            return sources + [Source(ref)]
        if rule.blocked:
            raise UserError(f"pulling {ref.familiar()} is blocked by {self.path} "
                            f"([[registry]] prefix {rule.prefix!r})")
        name = full_name(ref)
        sources = []
        for mirror in rule.mirrors:
            pull_from = "digest-only" if rule.mirror_by_digest_only else mirror.pull_from
            if (pull_from == "digest-only" and not ref.digest) or (pull_from == "tag-only" and ref.digest):
                continue
            sources.append(Source(_reference(rule.rewrite(name, mirror.location), self.path),
                                  insecure=mirror.insecure, mirror=True))
        if not rule.mirror_only:
            sources.append(Source(_reference(rule.rewrite(name, rule.location), self.path),
                                  insecure=rule.insecure))
        if not sources:
            raise UserError(f"{self.path}: no place to pull {ref.familiar()} from: [[registry]] prefix "
                            f"{rule.prefix!r} is mirror-only and none of its mirrors serves "
                            f"{'digests' if ref.digest else 'tags'}")
        return sources


def full_name(ref: Reference) -> str:
    """registry/repository[:tag][@digest], the string prefixes are matched against."""
    return ref.name + (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")


def _reference(text: str, path: str) -> Reference:
    """A rewritten name as a Reference, its first component always the registry (a location
    names a host even without a dot, unlike a name a user types)."""
    host, _, rest = text.partition("/")
    digest = tag = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
    if ":" in rest.rsplit("/", 1)[-1]:
        rest, tag = rest.rsplit(":", 1)
    if not DOMAIN_RE.fullmatch(host) or not PATH_RE.fullmatch(rest):
        raise UserError(f"{path}: rewriting gives {text!r}, which is not host[:port]/repository")
    if host == DEFAULT_REGISTRY and "/" not in rest:
        rest = f"library/{rest}"
    return Reference(host, rest, tag, digest)


def conf_path() -> Path:
    return Path(os.environ.get(CONF_ENV) or DEFAULT_CONF)


def load(path: Path | None = None) -> RegistriesConf:
    """The settings file (`path`, else $STACKUP_REGISTRIES_CONF, else /etc/stackup/registries.conf);
    empty settings when it does not exist."""
    path = path or conf_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return RegistriesConf(str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it: {exc}") from None
    return parse(text, str(path))


def parse(text: str, path: str) -> RegistriesConf:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    if "registries" in doc:
        raise UserError(f"{path}: the version 1 format ([registries.search] ...) is not supported; "
                        "write [[registry]] tables (containers-registries.conf(5) version 2)")
    unknown = sorted(set(doc) - {"registry"})
    if unknown:
        raise UserError(f"{path}: unknown or unsupported setting {unknown[0]!r} "
                        "(stackup reads only [[registry]] tables)")
    tables = doc.get("registry", [])
    if not isinstance(tables, list):
        raise UserError(f"{path}: 'registry' must be an array of tables: [[registry]]")
    rules = [_rule(table, f"{path}: [[registry]] #{n}") for n, table in enumerate(tables, 1)]
    seen: dict[str, int] = {}
    for n, rule in enumerate(rules, 1):
        if rule.prefix in seen:
            raise UserError(f"{path}: [[registry]] #{n}: prefix {rule.prefix!r} is already "
                            f"used by [[registry]] #{seen[rule.prefix]}")
        seen[rule.prefix] = n
    return RegistriesConf(path, tuple(rules))


def _rule(table: Any, where: str) -> RegistryRule:
    if not isinstance(table, dict):
        raise UserError(f"{where}: must be a table")
    _check_keys(table, _REGISTRY_KEYS, where)
    location = _string(table, "location", where)
    prefix = _string(table, "prefix", where) or location
    if not prefix:
        raise UserError(f"{where}: needs a prefix or a location")
    where = f"{where} (prefix {prefix!r})"
    if prefix.startswith("*."):
        if location:
            raise UserError(f"{where}: a wildcard prefix cannot have a location")
        if "/" in prefix or not DOMAIN_RE.fullmatch(prefix[2:]):
            raise UserError(f"{where}: a wildcard prefix must be *.domain")
    else:
        _check_location(prefix, f"{where}: prefix")
    if location:
        _check_location(location, f"{where}: location")
    mirrors = table.get("mirror", [])
    if not isinstance(mirrors, list):
        raise UserError(f"{where}: 'mirror' must be an array of tables: [[registry.mirror]]")
    rule = RegistryRule(
        prefix=prefix, location=location or prefix,
        insecure=_bool(table, "insecure", where), blocked=_bool(table, "blocked", where),
        mirror_by_digest_only=_bool(table, "mirror-by-digest-only", where),
        mirror_only=_bool(table, "mirror-only", where),
        mirrors=tuple(_mirror(m, f"{where}: mirror #{n}") for n, m in enumerate(mirrors, 1)))
    if rule.mirror_by_digest_only and any(m.pull_from != "all" for m in rule.mirrors):
        raise UserError(f"{where}: mirror-by-digest-only cannot be combined with a mirror's pull-from-mirror")
    if rule.mirror_only and not rule.mirrors:
        raise UserError(f"{where}: mirror-only needs at least one [[registry.mirror]]")
    return rule


def _mirror(table: Any, where: str) -> Mirror:
    if not isinstance(table, dict):
        raise UserError(f"{where}: must be a table")
    _check_keys(table, _MIRROR_KEYS, where)
    location = _string(table, "location", where)
    if not location:
        raise UserError(f"{where}: has no location")
    _check_location(location, f"{where}: location")
    pull_from = _string(table, "pull-from-mirror", where) or "all"
    if pull_from not in PULL_FROM:
        raise UserError(f"{where}: pull-from-mirror must be one of {', '.join(PULL_FROM)}, not {pull_from!r}")
    return Mirror(location, _bool(table, "insecure", where), pull_from)


def _check_keys(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise UserError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")


def _check_location(text: str, where: str) -> None:
    """host[:port][/namespace...], no scheme (a scheme is chosen by `insecure`)."""
    if "://" in text:
        raise UserError(f"{where} {text!r} must not have a scheme (write host[:port][/path]; "
                        "insecure = true allows plain HTTP)")
    host, _, rest = text.partition("/")
    rest = rest.split("@", 1)[0]
    if ":" in rest.rsplit("/", 1)[-1]:
        rest = rest.rsplit(":", 1)[0]
    if not DOMAIN_RE.fullmatch(host) or (rest and not PATH_RE.fullmatch(rest)):
        raise UserError(f"{where} {text!r} is not host[:port][/namespace...]")


def _string(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise UserError(f"{where}: {key} must be a string, not {value!r}")
    return value.strip()


def _bool(table: dict[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise UserError(f"{where}: {key} must be true or false, not {value!r}")
    return value
