"""Registry credentials and the auth challenge flow (anonymous, Basic, Bearer tokens).

Credentials come from the file users already have: `~/.docker/config.json` (or
`$DOCKER_CONFIG/config.json`), its `auths` section, keyed by registry host (Docker
Hub's key is `https://index.docker.io/v1/`). As the Docker CLI does, a credential
helper named for the registry in `credHelpers`, else the `credsStore` helper, is
asked first (`docker-credential-<name> get`, the server on stdin, JSON on stdout);
when it has nothing for the registry, the stored `auth` / `username`+`password`
entries are used.

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
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from stackup.engine.images.errors import AuthError
from stackup.errors import UserError

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
                   "registry-1.docker.io", "https://registry-1.docker.io")

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"  # the server name Docker gives helpers for Hub
HELPER_TIMEOUT = 30
# What helpers print when they hold nothing for the server (docker-credential-helpers' ErrCredentialsNotFound).
NOT_FOUND = "credentials not found in native keychain"

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


def _read_config(path: Path) -> dict:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read Docker credentials: {exc}") from None
    if not isinstance(document, dict):
        raise UserError(f"{path}: cannot read Docker credentials: not a JSON object")
    return document


def _wanted_hosts(registry: str) -> set[str]:
    return {"docker.io", "index.docker.io", "registry-1.docker.io"} if registry == "docker.io" else {registry}


def _helper_name(document: dict, registry: str, path: Path) -> str | None:
    """The helper for `registry`: its `credHelpers` entry, else `credsStore`, else none."""
    helpers = document.get("credHelpers") or {}
    if not isinstance(helpers, dict):
        raise UserError(f"{path}: credHelpers must be an object of registry -> helper name")
    for key, name in helpers.items():
        if _host_of(key) in _wanted_hosts(registry) and name:
            return str(name)
    store = document.get("credsStore")
    return str(store) if store else None


def run_helper(name: str, server: str, path: Path | None = None) -> Credentials | None:
    """Ask `docker-credential-<name> get` for `server`; None when it holds nothing for it."""
    where = path or docker_config_path()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UserError(f"{where}: credential helper name {name!r} is not a valid program name")
    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        raise UserError(f"{where}: credential helper docker-credential-{name} is not on PATH")
    try:
        done = subprocess.run([program, "get"], input=server, capture_output=True, text=True,
                              timeout=HELPER_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AuthError(f"credential helper docker-credential-{name} failed for {server}: {exc}") from None
    out = done.stdout.strip()
    if done.returncode != 0:
        if NOT_FOUND in out or NOT_FOUND in done.stderr:
            return None
        detail = (out or done.stderr.strip() or f"exit status {done.returncode}").splitlines()[0]
        raise AuthError(f"credential helper docker-credential-{name} failed for {server}: {detail}")
    try:
        answer = json.loads(out)
        user, secret = answer.get("Username", ""), answer.get("Secret", "")
    except (ValueError, AttributeError):
        raise AuthError(f"credential helper docker-credential-{name} did not answer JSON "
                        "with Username and Secret") from None
    if not secret:
        return None
    if user == "<token>":
        # An identity token (OAuth2 refresh token): the token flow would need a POST grant.
        raise AuthError(f"credential helper docker-credential-{name} gave an identity token for "
                        f"{server}; stackup supports user name + password credentials only")
    return Credentials(str(user), str(secret))


def load_credentials(registry: str, path: Path | None = None) -> Credentials | None:
    """The credentials for `registry` (a reference's registry, e.g. docker.io), if any."""
    path = path or docker_config_path()
    document = _read_config(path)
    helper = _helper_name(document, registry, path)
    if helper:
        found = run_helper(helper, DOCKER_HUB_SERVER if registry == "docker.io" else registry, path)
        if found is not None:
            return found
    auths = document.get("auths") or {}
    wanted = _wanted_hosts(registry)
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
