"""A client of the OCI distribution protocol (Docker Hub and every other registry).

One RegistryClient talks to one registry host. It answers auth challenges itself
(see auth.py), keeps a token per scope, and turns registry errors into one-line
RegistryError / NotFoundError messages. Docker Hub's API host is
registry-1.docker.io. Which places a pull tries (mirrors, redirections) is decided by
mirrors.py; a client talks to the one place it is given.

Plain HTTP is used only for loopback registries and those the user marked
insecure, and for those only after HTTPS failed, as Docker does.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import os
import ssl
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from stackup.engine import state
from stackup.engine.images import auth
from stackup.engine.images import mirrors as mirrors_conf
from stackup.engine.images import mediatypes as mt
from stackup.engine.images.errors import AuthError, RegistryError
from stackup.errors import NotFoundError, UserError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
CHUNK = 1 << 20
BLOB_PIECE = 1 << 20
MAX_MANIFEST = 4 << 20  # as containerd: a manifest or index is small JSON
USER_AGENT = "stackup/0.1"


@dataclass
class RegistrySettings:
    """Where to pull docker.io from, and which registries may speak plain HTTP.

    Read from `$STACKUP_ROOT/registries.json` ({"registry-mirrors": [...],
    "insecure-registries": [...]}, as in Docker's daemon.json) and the environment
    (STACKUP_REGISTRY_MIRRORS, STACKUP_INSECURE_REGISTRIES, comma-separated), and the
    registries.conf-style mirrors and redirections of any registry (see mirrors.py).
    """

    mirrors: list[str] = field(default_factory=list)
    insecure: list[str] = field(default_factory=list)
    registries: mirrors_conf.RegistriesConf = field(default_factory=mirrors_conf.RegistriesConf)

    @classmethod
    def load(cls) -> RegistrySettings:
        path = state.root() / "registries.json"
        try:
            doc = state.read_json(path, {}) or {}
        except ValueError as exc:
            raise UserError(f"{path}: not valid JSON: {exc}") from None
        mirrors = list(doc.get("registry-mirrors") or [])
        insecure = list(doc.get("insecure-registries") or [])
        for var, target in (("STACKUP_REGISTRY_MIRRORS", mirrors), ("STACKUP_INSECURE_REGISTRIES", insecure)):
            target += [v.strip() for v in os.environ.get(var, "").split(",") if v.strip()]
        return cls(mirrors, insecure, mirrors_conf.load())


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, trusting the system's CAs (as Docker does).

    Where they are a hashed directory (/etc/ssl/certs on Debian, or $SSL_CERT_DIR), OpenSSL
    reads from it only the certificates a handshake needs: loading the whole bundle (~140
    certificates) took 0.05 s of every pull. Else, or with $SSL_CERT_FILE, the bundle."""
    paths = ssl.get_default_verify_paths()  # (SSL_CERT_FILE / SSL_CERT_DIR already applied)
    if not os.environ.get(paths.openssl_cafile_env) and paths.capath and _is_hashed(paths.capath):
        return ssl.create_default_context(capath=paths.capath)
    return ssl.create_default_context()


def _is_hashed(directory: str) -> bool:
    """Whether `directory` has the <subject hash>.<n> links OpenSSL looks certificates up by."""
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    return any(len(name) > 9 and name[8] == "." and name[9:].isdigit()
               and all(c in string.hexdigits for c in name[:8]) for name in names)


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _error_text(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        if errors:
            return "; ".join(
                f"{e.get('code', '').lower().replace('_', ' ')}: {e.get('message', '')}".strip(": ")
                for e in errors)
    except (ValueError, AttributeError):
        pass
    return f"HTTP {response.status_code}"


class RegistryClient:
    def __init__(self, registry: str, settings: RegistrySettings | None = None,
                 credentials: auth.Credentials | None = None, endpoint: str | None = None,
                 timeout: float = 60.0):
        """`registry` as references name it (docker.io, localhost:5000); `endpoint` overrides
        the host actually contacted (a mirror)."""
        self.registry = registry
        self.settings = settings or RegistrySettings()
        self.host = endpoint or (DOCKER_HUB_API if registry == DOCKER_HUB else registry)
        self.credentials = credentials if credentials is not None else auth.load_credentials(registry)
        self._scheme = None if "://" not in self.host else self.host.split("://", 1)[0]
        if "://" in self.host:
            self.host = self.host.split("://", 1)[1].rstrip("/")
        self._timeout = timeout
        self._http = self._connection_pool()
        self._auth: dict[str, str] = {}  # scope -> Authorization header value

    def _connection_pool(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(self._timeout, connect=15.0), follow_redirects=True,
                            verify=_tls_context(), headers={"User-Agent": USER_AGENT})

    def twin(self) -> RegistryClient:
        """A client of the same registry with connections of its own, knowing what this one
        learned (the scheme that answers, the tokens): for a forked child process, which
        must not use its parent's open connections."""
        twin = copy.copy(self)
        twin._http = self._connection_pool()
        twin._auth = dict(self._auth)
        return twin

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------

    def _may_use_http(self) -> bool:
        return is_loopback(self.host) or self.host in self.settings.insecure or \
            self.registry in self.settings.insecure

    def _base(self) -> str:
        if self._scheme is None:
            self._scheme = "https"
            if self._may_use_http():
                try:
                    self._http.get(f"https://{self.host}/v2/", timeout=5.0)
                except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError,
                        httpx.ConnectTimeout) as exc:
                    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                        # It speaks TLS: plain HTTP would only get "HTTP 400" back.
                        raise RegistryError(
                            f"{self.host}: its TLS certificate is not trusted ({exc}); add the CA that "
                            "signed it to the system's (or name it in $SSL_CERT_FILE)") from exc
                    self._scheme = "http"
        return f"{self._scheme}://{self.host}"

    def url(self, path: str) -> str:
        return path if "://" in path else self._base() + path

    def request(self, method: str, path: str, scope: str, *, stream: bool = False,
                headers: dict | None = None, content=None, expect: tuple[int, ...] = (200,),
                what: str = "") -> httpx.Response:
        """Send, answering one auth challenge; RegistryError unless the status is expected."""
        url = self.url(path)
        for attempt in (0, 1):
            hdrs = dict(headers or {})
            if scope in self._auth:
                hdrs["Authorization"] = self._auth[scope]
            try:
                req = self._http.build_request(method, url, headers=hdrs,
                                               content=content() if callable(content) else content)
                response = self._http.send(req, stream=stream)
            except httpx.HTTPError as exc:
                raise RegistryError(f"cannot reach registry {self.host}: {exc}") from exc
            if response.status_code == 401 and attempt == 0:
                challenge = auth.parse_challenge(response.headers.get("www-authenticate", ""))
                response.close()
                self._authenticate(challenge, scope)
                continue
            break
        if response.status_code not in expect:
            if stream:
                response.read()
            response.close()
            text = _error_text(response)
            target = what or f"{method} {httpx.URL(url).path}"
            if response.status_code in (401, 403):
                raise AuthError(f"{self.registry}: access to {target} denied ({text})"
                                + ("" if self.credentials else "; log in with credentials in "
                                   f"{auth.docker_config_path()}"))
            if response.status_code == 404:
                raise NotFoundError(f"{self.registry}: {target} not found ({text})")
            raise RegistryError(f"{self.registry}: {target} failed: {text}")
        return response

    def _authenticate(self, challenge: auth.Challenge | None, scope: str) -> None:
        if challenge is None:
            raise AuthError(f"{self.registry}: registry wants authentication but sent no challenge")
        if challenge.scheme == "basic":
            if not self.credentials:
                raise AuthError(f"{self.registry}: registry needs a user name and password; "
                                f"none found in {auth.docker_config_path()}")
            self._auth[scope] = self.credentials.basic_header()
        elif challenge.scheme == "bearer":
            token = auth.fetch_token(self._http, challenge, scope, self.credentials)
            self._auth[scope] = f"Bearer {token}"
        else:
            raise AuthError(f"{self.registry}: unsupported auth scheme {challenge.scheme!r}")

    # --- the protocol ------------------------------------------------------------------

    @staticmethod
    def scope(repository: str, push: bool = False) -> str:
        return f"repository:{repository}:{'pull,push' if push else 'pull'}"

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str | None]:
        """(body, media type, Docker-Content-Digest header) of a manifest or index."""
        response = self.request("GET", f"/v2/{repository}/manifests/{reference}", self.scope(repository),
                                headers={"Accept": mt.ACCEPT}, what=f"manifest {repository}:{reference}",
                                stream=True)
        try:
            data = bytearray()
            for chunk in response.iter_bytes(CHUNK):
                data += chunk
                if len(data) > MAX_MANIFEST:
                    raise RegistryError(f"{self.registry}: manifest {repository}:{reference} is larger "
                                        f"than {MAX_MANIFEST} bytes; refusing it")
        except httpx.HTTPError as exc:
            raise RegistryError(f"{self.registry}: reading manifest {repository}:{reference}: {exc}") from exc
        finally:
            response.close()
        body = bytes(data)
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if media not in mt.INDEXES + mt.MANIFESTS:
            try:
                media = mt.detect(json.loads(body))
            except ValueError:
                raise RegistryError(f"{self.registry}: manifest {repository}:{reference} is not JSON") from None
        return body, media, response.headers.get("docker-content-digest")

    def blob_chunks(self, repository: str, digest: str, push: bool = False) -> Iterator[bytes]:
        """The blob's bytes, streamed in pieces of at least BLOB_PIECE bytes (the last one
        may be shorter).

        The network hands them over 16-64 KiB at a time (a TLS record, httpcore's read
        size), and whatever takes them (hashing, the blob file, the inflater, the progress
        bar) pays a round of Python per piece: regrouping copies every byte once more
        (one join, cheaper than httpx's own chunk_size, which copies twice) and still saved
        about a tenth of a pull's time (docs/images.md)."""
        response = self.request("GET", f"/v2/{repository}/blobs/{digest}", self.scope(repository, push),
                                stream=True, what=f"blob {digest}")
        try:
            pieces: list[bytes] = []
            size = 0
            for piece in response.iter_bytes():
                pieces.append(piece)
                size += len(piece)
                if size >= BLOB_PIECE:
                    yield b"".join(pieces)
                    pieces, size = [], 0
            if pieces:
                yield b"".join(pieces)
        except httpx.HTTPError as exc:
            raise RegistryError(f"{self.registry}: download of {digest} broke off: {exc}") from exc
        finally:
            response.close()

    def has_blob(self, repository: str, digest: str) -> bool:
        response = self.request("HEAD", f"/v2/{repository}/blobs/{digest}",
                                self.scope(repository, push=True), expect=(200, 404))
        return response.status_code == 200

    def upload_blob(self, repository: str, digest: str, size: int, open_blob) -> None:
        """Upload in one PUT (monolithic upload): POST for a location, then PUT ?digest=."""
        scope = self.scope(repository, push=True)
        start = self.request("POST", f"/v2/{repository}/blobs/uploads/", scope, expect=(202,),
                             what=f"upload of {digest}")
        location = start.headers.get("location")
        if not location:
            raise RegistryError(f"{self.registry}: upload of {digest}: no Location in the answer")
        url = httpx.URL(self.url(f"/v2/{repository}/blobs/uploads/")).join(location)
        url = url.copy_add_param("digest", digest)

        def body():
            with open_blob() as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        self.request("PUT", str(url), scope, content=body, expect=(201,), what=f"upload of {digest}",
                     headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str | None:
        response = self.request("PUT", f"/v2/{repository}/manifests/{reference}",
                                self.scope(repository, push=True), content=body,
                                headers={"Content-Type": media_type}, expect=(201, 200),
                                what=f"manifest {repository}:{reference}")
        return response.headers.get("docker-content-digest")

