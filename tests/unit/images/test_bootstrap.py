"""Debian bootstrap decisions that need no root and no network: names, the host's apt sources."""

import pytest

from stackup.engine.images import bootstrap as bs
from stackup.engine.images.progress import Progress
from stackup.errors import UserError


@pytest.mark.parametrize("name, suite, slim, stored", [
    ("debian:bookworm", "bookworm", False, "docker.io/library/debian:bookworm"),
    ("debian:bookworm-slim", "bookworm", True, "docker.io/library/debian:bookworm-slim"),
    ("docker.io/library/debian:trixie", "trixie", False, "docker.io/library/debian:trixie"),
    ("debian:12", "bookworm", False, "docker.io/library/debian:12"),
    ("debian:13-slim", "trixie", True, "docker.io/library/debian:13-slim"),
    ("debian:stable-slim", "stable", True, "docker.io/library/debian:stable-slim"),
    ("debian", "stable", False, "docker.io/library/debian:latest"),
    ("debian:sid", "sid", False, "docker.io/library/debian:sid"),
])
def test_names_map_to_suites(name, suite, slim, stored):
    assert bs.target(name) == bs.Target(stored, suite, slim)


@pytest.mark.parametrize("name, message", [
    ("ubuntu:22.04", "only Debian images can be made here"),
    ("alpine", "only Debian images"),
    ("quay.io/debian:bookworm", "only Debian images"),
    ("debian:bookwrom", "'bookwrom' is not a Debian release"),
    ("debian:experimental", "not a Debian release"),
    (f"debian@sha256:{'a' * 64}", "only Debian images"),
])
def test_other_names_are_refused_by_name(name, message):
    with pytest.raises(UserError, match=message) as caught:
        bs.target(name)
    assert repr(name) in str(caught.value) and caught.value.exit_code == 2


def write_apt(tmp_path, sources_list="", files=()):
    (tmp_path / "sources.list.d").mkdir(parents=True)
    (tmp_path / "sources.list").write_text(sources_list)
    for name, text in files:
        (tmp_path / "sources.list.d" / name).write_text(text)
    return tmp_path


DEB822 = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZ...
 -----END PGP PUBLIC KEY BLOCK-----
"""


def test_debian_mirror_from_deb822_sources_skipping_other_vendors(tmp_path):
    apt = write_apt(tmp_path, files=[
        ("nodesource.sources", "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"
                               "Components: main\n"),
        ("debian.sources", DEB822),
        ("google.list", "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"),
        ("old.list.disabled", "deb http://wrong.example/debian bookworm main\n")])
    mirrors = bs.debian_mirrors(bs.host_sources(apt))
    assert mirrors == bs.DebianMirrors("http://deb.debian.org/debian", "http://deb.debian.org/debian-security")


def test_debian_mirror_from_one_line_sources(tmp_path):
    apt = write_apt(tmp_path, sources_list=(
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb cdrom:[Debian 12]/ bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib\n"
        "deb http://security.example/debian-security bookworm-security main\n"))
    assert bs.debian_mirrors(bs.host_sources(apt)) == \
        bs.DebianMirrors("http://mirror.example/debian", "http://security.example/debian-security")


def test_disabled_stanzas_and_no_mirror(tmp_path):
    apt = write_apt(tmp_path, files=[("debian.sources", "Enabled: no\n" + DEB822.split("\n\n")[0] + "\n")])
    with pytest.raises(UserError, match="no Debian mirror found.*--mirror"):
        bs.debian_mirrors(bs.host_sources(apt), str(apt))


def test_missing_mmdebstrap_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="mmdebstrap is not installed: install the Debian package mmdebstrap"):
        bs.make_rootfs(bs.target("debian:bookworm"), ["deb http://m/debian bookworm main"],
                       tmp_path / "out.tar", Progress())
    assert list(tmp_path.iterdir()) == []


def test_slim_options_follow_the_official_rules(tmp_path):
    options = bs._hooks(bs.target("debian:bookworm-slim"), tmp_path)
    assert "--dpkgopt=path-exclude=/usr/share/doc/*" in options
    assert "--dpkgopt=path-include=/usr/share/doc/*/copyright" in options
    assert "--dpkgopt=path-include=/usr/share/locale/locale.alias" in options
    assert not any("dpkgopt" in o for o in bs._hooks(bs.target("debian:bookworm"), tmp_path))
