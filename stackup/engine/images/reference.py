"""Image references, parsed by Docker's grammar (github.com/distribution/reference).

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path-component ( "/" path-component )*
    domain    := host [ ":" port ]

The first component is a registry only when it looks like a host: it contains a
"." or a ":", or is "localhost" (or has upper-case letters, which a repository
never has). Otherwise the registry is docker.io, and a one-component docker.io
repository lives under "library/". A reference without tag or digest means ":latest".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stackup.errors import UserError

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
NAME_TOTAL_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
DOMAIN_RE = re.compile(_DOMAIN)
TAG_RE = re.compile(_TAG)
DIGEST_RE = re.compile(_DIGEST)
SHA256_RE = re.compile(r"sha256:[0-9a-f]{64}")
HEX64_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Reference:
    """A parsed image reference: registry, repository, and a tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """registry/repository, e.g. docker.io/library/busybox."""
        return f"{self.registry}/{self.repository}"

    def normalized(self) -> str:
        """The full form: registry/repository[:tag][@digest], ':latest' when neither is given."""
        text = self.name
        tag = self.tag if self.tag or self.digest else DEFAULT_TAG
        if tag:
            text += f":{tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def familiar(self) -> str:
        """The short form Docker shows: busybox:latest, user/app:1, localhost:5000/x:latest."""
        name = self.repository
        if self.registry == DEFAULT_REGISTRY:
            if name.startswith("library/") and name.count("/") == 1:
                name = name[len("library/"):]
        else:
            name = f"{self.registry}/{name}"
        tag = self.tag if self.tag or self.digest else DEFAULT_TAG
        return name + (f":{tag}" if tag else "") + (f"@{self.digest}" if self.digest else "")

    def with_tag(self, tag: str | None) -> Reference:
        return Reference(self.registry, self.repository, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, None, digest)

    def __str__(self) -> str:
        return self.normalized()


def _split_domain(name: str) -> tuple[str, str]:
    """Docker's splitDockerDomain: (registry, remainder)."""
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"
                     and first.lower() == first):
        registry, remainder = DEFAULT_REGISTRY, name
    else:
        registry, remainder = first, rest
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in remainder:
        remainder = f"library/{remainder}"
    return registry, remainder


def parse_reference(text: str) -> Reference:
    """Parse `text` as Docker does (ParseNormalizedNamed); raise UserError when malformed."""
    if not isinstance(text, str) or not text:
        raise UserError("invalid reference format: empty image reference")
    if text != text.strip():
        raise UserError(f"invalid reference format: {text!r} has surrounding spaces")
    if HEX64_RE.fullmatch(text):
        raise UserError(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    rest, at, digest = text.partition("@")
    if at:
        if not DIGEST_RE.fullmatch(digest):
            raise UserError(f"invalid reference format: bad digest {digest!r} in {text!r}")
    else:
        digest = ""
    # A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
    tag = ""
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1:]
        if not TAG_RE.fullmatch(tag):
            raise UserError(f"invalid reference format: bad tag {tag!r} in {text!r}")
    if not rest:
        raise UserError(f"invalid reference format: no repository name in {text!r}")
    registry, path = _split_domain(rest)
    if registry != DEFAULT_REGISTRY or rest.startswith(("docker.io/", "index.docker.io/")):
        if not DOMAIN_RE.fullmatch(registry):
            raise UserError(f"invalid reference format: bad registry {registry!r} in {text!r}")
    if not PATH_RE.fullmatch(path):
        if path.lower() != path and PATH_RE.fullmatch(path.lower()):
            raise UserError(f"invalid reference format: repository name must be lowercase: {text!r}")
        raise UserError(f"invalid reference format: bad repository name {path!r} in {text!r}")
    if len(f"{registry}/{path}") > NAME_TOTAL_MAX:
        raise UserError(f"invalid reference format: repository name longer than {NAME_TOTAL_MAX} characters")
    return Reference(registry, path, tag or None, digest or None)


def normalize(text: str) -> str:
    """The normalized string of a reference (docker.io/library/busybox:latest)."""
    return parse_reference(text).normalized()
