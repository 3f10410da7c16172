"""Registry credentials and the auth challenge flow (anonymous, Basic, Bearer tokens).

Credentials come from the file users already have: `~/.docker/config.json` (or
`$DOCKER_CONFIG/config.json`), its `auths` section, keyed by registry host (Docker
Hub's key is `https://index.docker.io/v1/`). Credential helpers (`credsStore`)
are not run: stackup only reads stored `auth` / `username`+`password` entries.

A registry says how it wants to be authenticated in `WWW-Authenticate` on a 401:
`Basic realm=...` -> send the credentials; `Bearer realm=...,service=...,scope=...`
-> fetch a token from the realm (with the credentials if we have them, anonymously
otherwise) and send it as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx

from stackup.engine.images.errors import AuthError
from stackup.errors import UserError

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
                   "registry-1.docker.io", "https://registry-1.docker.io")

_PARAM_RE = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _host_of(key: str) -> str:
    """The registry host of an `auths` key: 'https://host:5000/v1/' -> 'host:5000'."""
    key = re.sub(r"^https?://", "", key)
    return key.split("/", 1)[0]


def load_credentials(registry: str, path: Path | None = None) -> Credentials | None:
    """The stored credentials for `registry` (a reference's registry, e.g. docker.io), if any."""
    path = path or docker_config_path()
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read Docker credentials: {exc}") from None
    auths = document.get("auths") or {}
    wanted = {"docker.io", "index.docker.io", "registry-1.docker.io"} if registry == "docker.io" else {registry}
    for key, entry in auths.items():
        if _host_of(key) not in wanted or not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise UserError(f"{path}: auths.{key}.auth is not base64 of user:password") from None
            return Credentials(user, password)
        if entry.get("username"):
            return Credentials(entry["username"], entry.get("password", ""))
    return None


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM_RE.finditer(rest)}
    return Challenge(scheme.lower(), params)


def fetch_token(http: httpx.Client, challenge: Challenge, scope: str,
                credentials: Credentials | None) -> str:
    """A Bearer token from the challenge's realm for `scope`."""
    realm = challenge.params.get("realm")
    if not realm:
        raise AuthError("registry asked for a Bearer token but named no realm")
    params = {}
    if challenge.params.get("service"):
        params["service"] = challenge.params["service"]
    scopes = [scope] if scope else []
    if challenge.params.get("scope") and challenge.params["scope"] not in scopes:
        scopes.append(challenge.params["scope"])
    headers = {"Authorization": credentials.basic_header()} if credentials else {}
    if credentials:
        params["account"] = credentials.username
    url = httpx.URL(realm).copy_merge_params(params)
    for s in scopes:
        url = url.copy_add_param("scope", s)
    try:
        response = http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise AuthError(f"cannot reach token service {realm}: {exc}") from exc
    if response.status_code in (401, 403):
        who = f"the credentials for {credentials.username}" if credentials else "anonymous access"
        raise AuthError(f"token service {realm} refused {who} (HTTP {response.status_code})")
    if response.status_code != 200:
        raise AuthError(f"token service {realm} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise AuthError(f"token service {realm} did not answer JSON") from None
    token = body.get("token") or body.get("access_token")
    if not token:
        raise AuthError(f"token service {realm} answered without a token")
    return token
