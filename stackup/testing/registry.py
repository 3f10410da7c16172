"""A real registry for tests: Debian's `docker-registry` (CNCF distribution) on loopback.

    with LocalRegistry(tmp_path, auth="htpasswd") as reg:   # or auth="none" / "token"
        reg.host        # "127.0.0.1:41234"
        reg.docker_config(tmp_path / "docker")  # a config.json with reg's credentials

`auth="token"` also runs a small token service that signs RS256 JWTs with a key
whose self-signed certificate the registry trusts (rootcertbundle): valid
credentials get pull and push, anonymous clients get pull only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

REGISTRY_BIN = Path("/usr/bin/docker-registry")
USER, PASSWORD = "stackup", "s3cret-pass"
SERVICE, ISSUER = "stackup-test-registry", "stackup-test-issuer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """Issues JWTs the registry trusts, after checking Basic credentials (if any)."""

    def __init__(self, workdir: Path, anonymous_pull: bool = True):
        self.key = workdir / "token.key"
        self.cert = workdir / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "2", "-subj", "/CN=stackup-token"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self._x5c = base64.b64encode(der).decode()
        self.anonymous_pull = anonymous_pull
        self.requests: list[dict] = []
        self.port = free_port()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                service.handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), check=True, capture_output=True).stdout
        return f"{signing_input}.{b64url(signature)}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(request.path).query)
        authorization = request.headers.get("Authorization", "")
        user = None
        if authorization.startswith("Basic "):
            name, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            if (name, password) != (USER, PASSWORD):
                request.send_response(401)
                request.end_headers()
                return
            user = name
        self.requests.append({"user": user, "scope": query.get("scope", []), "service": query.get("service")})
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            allowed = [a for a in actions.split(",") if user or (self.anonymous_pull and a == "pull")]
            access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        token = self.sign({"iss": ISSUER, "sub": user or "", "aud": SERVICE, "iat": now - 5,
                           "nbf": now - 5, "exp": now + 600, "jti": os.urandom(8).hex(), "access": access})
        body = json.dumps({"token": token, "expires_in": 600}).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def make_tls(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A test CA and a certificate for `host` (an IP address) signed by it:
    (CA certificate, server certificate, server key), made with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    cert, key, csr = directory / "server.crt", directory / "server.key", directory / "server.csr"
    openssl = ["openssl"]
    subprocess.run(openssl + ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
                              "-out", str(ca), "-days", "2", "-subj", "/CN=stackup test CA"],
                   check=True, capture_output=True)
    subprocess.run(openssl + ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                              "-subj", f"/CN={host}"], check=True, capture_output=True)
    extensions = directory / "san.ext"
    extensions.write_text(f"subjectAltName = IP:{host}\n")
    subprocess.run(openssl + ["x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                              "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions)],
                   check=True, capture_output=True)
    return ca, cert, key


class LocalRegistry:
    def __init__(self, workdir: Path, auth: str = "none", anonymous_pull: bool = True,
                 tls: tuple[Path, Path] | None = None):
        """`tls`: (certificate, key) to serve HTTPS with instead of plain HTTP."""
        if not REGISTRY_BIN.exists():
            raise FileNotFoundError(f"{REGISTRY_BIN} is missing: install Debian's docker-registry")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.auth = auth
        self.anonymous_pull = anonymous_pull
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.tokens: TokenService | None = None
        self.tls = tls
        self._proc: subprocess.Popen | None = None

    def _config(self) -> str:
        lines = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", f"    rootdirectory: {self.workdir / 'data'}",
                 "  delete:", "    enabled: true", "http:", f"  addr: {self.host}"]
        if self.tls:
            lines += ["  tls:", f"    certificate: {self.tls[0]}", f"    key: {self.tls[1]}"]
        if self.auth == "htpasswd":
            htpasswd = self.workdir / "htpasswd"
            out = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True,
                                 text=True)
            htpasswd.write_text(out.stdout.strip() + "\n")
            lines += ["auth:", "  htpasswd:", "    realm: stackup-basic", f"    path: {htpasswd}"]
        elif self.auth == "token":
            self.tokens = TokenService(self.workdir, self.anonymous_pull)
            lines += ["auth:", "  token:", f"    realm: {self.tokens.realm}", f"    service: {SERVICE}",
                      f"    issuer: {ISSUER}", f"    rootcertbundle: {self.tokens.cert}"]
        elif self.auth != "none":
            raise ValueError(f"unknown auth {self.auth!r}")
        return "\n".join(lines) + "\n"

    def start(self) -> LocalRegistry:
        config = self.workdir / "config.yml"
        config.write_text(self._config())
        log = open(self.workdir / "registry.log", "wb")  # noqa: SIM115 - owned by the process
        self._proc = subprocess.Popen([str(REGISTRY_BIN), "serve", str(config)], stdout=log, stderr=log,
                                      env=dict(os.environ, OTEL_TRACES_EXPORTER="none"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {(self.workdir / 'registry.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                scheme = "https" if self.tls else "http"
                if httpx.get(f"{scheme}://{self.host}/v2/", timeout=1, verify=False).status_code in (200, 401):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not start within 20s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self.tokens:
            self.tokens.close()

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def docker_config(self, directory: Path, user: str = USER, password: str = PASSWORD) -> Path:
        """Write a Docker config.json with credentials for this registry; returns the directory."""
        directory.mkdir(parents=True, exist_ok=True)
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        (directory / "config.json").write_text(json.dumps({"auths": {self.host: {"auth": auth}}}))
        return directory

    def skopeo_creds(self, side: str = "dest") -> list[str]:
        """skopeo's credential flag for this registry as copy source ("src") or destination ("dest")."""
        return [] if self.auth == "none" else [f"--{side}-creds", f"{USER}:{PASSWORD}"]

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir / "data", ignore_errors=True)
