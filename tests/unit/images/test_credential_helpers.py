"""Credential helpers from ~/.docker/config.json: credHelpers per registry, else credsStore."""

import json
import os
import stat

import pytest

from stackup.engine.images import auth
from stackup.engine.images.errors import AuthError
from stackup.errors import UserError

# A helper as docker-credential-helpers write them: `get` reads the server name on stdin,
# prints {"ServerURL","Username","Secret"} or "credentials not found in native keychain" (exit 1).
HELPER = """#!/bin/sh
[ "$1" = get ] || exit 3
read -r server
echo "$server" >> "{log}"
case "$server" in
  {known}) printf '{{"ServerURL":"%s","Username":"{user}","Secret":"s3cret"}}\\n' "$server" ;;
  broken.example) echo 'not json' ;;
  failing.example) echo 'keychain locked' >&2; exit 1 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
"""


def install_helper(tmp_path, monkeypatch, name, known, user="helper-user"):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    log = tmp_path / f"{name}.log"
    script = bindir / f"docker-credential-{name}"
    script.write_text(HELPER.format(log=log, known=known, user=user))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


def write_config(tmp_path, document):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    return path


def test_creds_store_is_asked_with_the_server_name(tmp_path, monkeypatch):
    log = install_helper(tmp_path, monkeypatch, "store", "'https://index.docker.io/v1/'|localhost:5000")
    path = write_config(tmp_path, {"credsStore": "store"})
    assert auth.load_credentials("docker.io", path) == auth.Credentials("helper-user", "s3cret")
    assert auth.load_credentials("localhost:5000", path) == auth.Credentials("helper-user", "s3cret")
    assert log.read_text().split() == ["https://index.docker.io/v1/", "localhost:5000"]


def test_cred_helpers_entry_wins_over_the_store_and_auths(tmp_path, monkeypatch):
    install_helper(tmp_path, monkeypatch, "store", "ghcr.io", user="from-store")
    install_helper(tmp_path, monkeypatch, "gh", "ghcr.io", user="from-gh")
    path = write_config(tmp_path, {"credsStore": "store", "credHelpers": {"ghcr.io": "gh"},
                                   "auths": {"ghcr.io": {"username": "file", "password": "p"}}})
    assert auth.load_credentials("ghcr.io", path) == auth.Credentials("from-gh", "s3cret")


def test_helper_without_an_entry_falls_back_to_auths(tmp_path, monkeypatch):
    log = install_helper(tmp_path, monkeypatch, "store", "nothing.example")
    path = write_config(tmp_path, {"credsStore": "store",
                                   "auths": {"quay.io": {"username": "file", "password": "p"}}})
    assert auth.load_credentials("quay.io", path) == auth.Credentials("file", "p")
    assert auth.load_credentials("other.example", path) is None
    assert log.read_text().split() == ["quay.io", "other.example"]


def test_helper_failures_are_one_line_errors(tmp_path, monkeypatch):
    install_helper(tmp_path, monkeypatch, "store", "nothing.example")
    path = write_config(tmp_path, {"credsStore": "store"})
    with pytest.raises(AuthError, match="did not answer JSON"):
        auth.load_credentials("broken.example", path)
    with pytest.raises(AuthError, match="keychain locked"):
        auth.load_credentials("failing.example", path)
    missing = write_config(tmp_path, {"credHelpers": {"x.example": "no-such-helper"}})
    with pytest.raises(UserError, match="docker-credential-no-such-helper is not on PATH"):
        auth.load_credentials("x.example", missing)
    bad_name = write_config(tmp_path, {"credsStore": "../evil"})
    with pytest.raises(UserError, match="not a valid program name"):
        auth.load_credentials("x.example", bad_name)


def test_identity_tokens_are_refused_clearly(tmp_path, monkeypatch):
    install_helper(tmp_path, monkeypatch, "store", "id.example", user="<token>")
    path = write_config(tmp_path, {"credsStore": "store"})
    with pytest.raises(AuthError, match="identity token"):
        auth.load_credentials("id.example", path)
