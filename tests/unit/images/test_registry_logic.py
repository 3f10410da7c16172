"""Registry client decisions that need no network: credentials, challenges, platforms, HTTP."""

import base64
import json
import ssl

import pytest

from stackup.engine.images import auth
from stackup.engine.images import platform as plat
from stackup.engine.images.pull import is_attestation, select_manifest
from stackup.engine.images.registry import DOCKER_HUB_API, RegistryClient, RegistrySettings, is_loopback
from stackup.errors import NotFoundError, UserError


def write_config(tmp_path, auths):
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths}))
    return tmp_path / "config.json"


def test_credentials_from_docker_config(tmp_path):
    token = base64.b64encode(b"me:pa:ss").decode()
    path = write_config(tmp_path, {"https://index.docker.io/v1/": {"auth": token},
                                   "localhost:5000": {"username": "u", "password": "p"},
                                   "https://ghcr.io": {"auth": base64.b64encode(b"g:h").decode()}})
    assert auth.load_credentials("docker.io", path) == auth.Credentials("me", "pa:ss")
    assert auth.load_credentials("localhost:5000", path) == auth.Credentials("u", "p")
    assert auth.load_credentials("ghcr.io", path) == auth.Credentials("g", "h")
    assert auth.load_credentials("quay.io", path) is None
    assert auth.load_credentials("x", tmp_path / "missing.json") is None


def test_broken_docker_config_is_a_user_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="config.json"):
        auth.load_credentials("docker.io", tmp_path / "config.json")


def test_docker_config_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert auth.docker_config_path() == tmp_path / "config.json"


def test_parse_bearer_challenge_like_docker_hub():
    c = auth.parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                             'scope="repository:library/busybox:pull"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull"}
    assert auth.parse_challenge('Basic realm="Registry Realm"').scheme == "basic"


def test_docker_hub_is_contacted_at_registry_1():
    with RegistryClient("docker.io", credentials=None) as client:
        assert client.host == DOCKER_HUB_API
    with RegistryClient("docker.io", endpoint="https://mirror.example:5000/", credentials=None) as client:
        assert client.host == "mirror.example:5000" and client._scheme == "https"


@pytest.mark.parametrize("host, loop", [("localhost:5000", True), ("127.0.0.1:5000", True), ("127.8.0.1", True),
                                        ("[::1]:5000", True), ("registry.localhost", True),
                                        ("10.0.0.1:5000", False), ("example.com", False)])
def test_loopback(host, loop):
    assert is_loopback(host) is loop


def test_plain_http_only_for_loopback_or_insecure():
    settings = RegistrySettings(insecure=["10.0.0.5:5000"])
    for host, allowed in (("127.0.0.1:5000", True), ("10.0.0.5:5000", True), ("10.0.0.6:5000", False),
                          ("registry-1.docker.io", False)):
        with RegistryClient(host, settings, credentials=None) as client:
            assert client._may_use_http() is allowed


def test_settings_from_file_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path))
    (tmp_path / "registries.json").write_text(json.dumps({"registry-mirrors": ["https://m1"],
                                                          "insecure-registries": ["r:5000"]}))
    monkeypatch.setenv("STACKUP_REGISTRY_MIRRORS", "https://m2, ")
    settings = RegistrySettings.load()
    assert settings.mirrors == ["https://m1", "https://m2"] and settings.insecure == ["r:5000"]


INDEX = {"manifests": [
    {"digest": "sha256:" + "1" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
    {"digest": "sha256:" + "2" * 64, "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
    {"digest": "sha256:" + "3" * 64, "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    {"digest": "sha256:" + "4" * 64, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"digest": "sha256:" + "5" * 64, "platform": {"os": "unknown", "architecture": "unknown"},
     "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
]}


@pytest.mark.parametrize("platform, digit", [("linux/amd64", "1"), ("linux/arm/v7", "3"), ("linux/arm/v6", "2"),
                                             ("linux/arm64", "4"), ("linux/arm64/v8", "4")])
def test_platform_selection(platform, digit):
    assert select_manifest(INDEX, plat.parse(platform), "x")["digest"] == "sha256:" + digit * 64


def test_attestations_are_never_selected():
    assert is_attestation(INDEX["manifests"][4])
    with pytest.raises(NotFoundError, match="available: linux/amd64, linux/arm/v6"):
        select_manifest(INDEX, plat.Platform("unknown", "unknown"), "x")


def test_bad_platform_is_user_error():
    with pytest.raises(UserError):
        plat.parse("linux")


def test_tls_context_reads_a_hashed_ca_directory_lazily_else_the_bundle(tmp_path, monkeypatch):
    import certifi

    from stackup.engine.images.registry import _is_hashed, _tls_context

    hashed = tmp_path / "certs"
    hashed.mkdir()
    (hashed / "README").write_text("not a certificate")
    assert not _is_hashed(str(hashed))
    (hashed / "9d66eef0.0").write_text("(a link to a CA certificate)")
    assert _is_hashed(str(hashed)) and not _is_hashed(str(tmp_path / "missing"))

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed))
    lazy = _tls_context.__wrapped__()
    assert lazy.verify_mode == ssl.CERT_REQUIRED and lazy.check_hostname
    assert lazy.cert_store_stats()["x509_ca"] == 0  # nothing read until a handshake needs it

    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # the user's choice of bundle wins
    assert _tls_context.__wrapped__().cert_store_stats()["x509_ca"] > 50
