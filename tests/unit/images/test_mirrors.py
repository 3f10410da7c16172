"""registries.conf-style mirrors: the file's rules, and which names each place is asked for."""

import pytest

from stackup.engine.images import mirrors
from stackup.engine.images.reference import Reference, parse_reference
from stackup.engine.images.registry import RegistrySettings
from stackup.errors import UserError

CONF = """
[[registry]]
prefix = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:5000/hub"
insecure = true
[[registry.mirror]]
location = "mirror.example.com"

[[registry]]
prefix = "docker.io/library/debian"
location = "internal.example.com:8443/debian-images"
mirror-by-digest-only = true
[[registry.mirror]]
location = "cache.example.com/d"

[[registry]]
prefix = "quay.io/team"
mirror-only = true
[[registry.mirror]]
location = "localhost:5001"
pull-from-mirror = "tag-only"

[[registry]]
prefix = "*.corp.example"
insecure = true

[[registry]]
location = "blocked.example.com"
blocked = true
"""


def sources(name: str, text: str = CONF, hub: list[str] = ()):
    return [(str(s.reference), s.insecure, s.mirror, s.endpoint)
            for s in mirrors.parse(text, "/etc/r.conf").sources(parse_reference(name), hub)]


def test_docker_hub_names_go_to_its_mirrors_then_the_hub():
    assert sources("busybox") == [
        ("127.0.0.1:5000/hub/library/busybox:latest", True, True, None),
        ("mirror.example.com/library/busybox:latest", False, True, None),
        ("docker.io/library/busybox:latest", False, False, None)]
    assert sources("user/app:1")[0][0] == "127.0.0.1:5000/hub/user/app:1"


def test_longest_prefix_wins_and_location_redirects():
    assert sources("debian:bookworm") == [
        ("internal.example.com:8443/debian-images:bookworm", False, False, None)]
    digest = "sha256:" + "a" * 64
    assert [s[0] for s in sources(f"debian@{digest}")] == [
        f"cache.example.com/d@{digest}", f"internal.example.com:8443/debian-images@{digest}"]
    # a prefix matches only at a component boundary: debianx is not debian
    assert sources("debianx")[0][0] == "127.0.0.1:5000/hub/library/debianx:latest"


def test_mirror_only_and_pull_from_mirror():
    assert sources("quay.io/team/app:2") == [("localhost:5001/app:2", False, True, None)]
    with pytest.raises(UserError, match="mirror-only.*digests"):
        sources(f"quay.io/team/app@sha256:{'b' * 64}")
    assert sources("quay.io/other/app:2") == [("quay.io/other/app:2", False, False, None)]


def test_wildcard_blocked_and_unmatched():
    assert sources("r.corp.example/x/y:1") == [("r.corp.example/x/y:1", True, False, None)]
    with pytest.raises(UserError, match="blocked.*blocked.example.com"):
        sources("blocked.example.com/x:1")
    assert sources("ghcr.io/a/b") == [("ghcr.io/a/b:latest", False, False, None)]


def test_daemon_json_mirrors_serve_docker_hub_when_no_table_matches():
    assert sources("busybox", text="", hub=["http://127.0.0.1:5000"]) == [
        ("docker.io/library/busybox:latest", False, True, "http://127.0.0.1:5000"),
        ("docker.io/library/busybox:latest", False, False, None)]
    assert sources("ghcr.io/a/b:1", text="", hub=["http://m"]) == [("ghcr.io/a/b:1", False, False, None)]


def test_rewritten_reference_keeps_registry_as_first_component():
    conf = '[[registry]]\nprefix = "docker.io/library"\nlocation = "mirror/lib"\n'
    (source,) = mirrors.parse(conf, "r").sources(parse_reference("alpine:3"))
    assert source.reference == Reference("mirror", "lib/alpine", "3", None)


@pytest.mark.parametrize("text, message", [
    ("[[registry]\n", "not valid TOML.*line 1"),
    ('[registries.search]\nregistries = ["docker.io"]\n', "version 1 format"),
    ('unqualified-search-registries = ["docker.io"]\n', "unsupported setting 'unqualified-search-registries'"),
    ('[[registry]]\nprefix = "docker.io"\nmirrors = []\n', "#1: unknown setting 'mirrors'"),
    ("[[registry]]\ninsecure = true\n", "#1: needs a prefix or a location"),
    ('[[registry]]\nprefix = "docker.io"\ninsecure = "yes"\n', "insecure must be true or false"),
    ('[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\ninsecure = true\n', "mirror #1: has no location"),
    ('[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "http://m:5000"\n',
     "must not have a scheme"),
    ('[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "x"\n',
     "pull-from-mirror must be one of"),
    ('[[registry]]\nprefix = "docker.io"\nmirror-only = true\n', "mirror-only needs"),
    ('[[registry]]\nprefix = "Bad Host"\n', "prefix 'Bad Host' is not host"),
    ('[[registry]]\nprefix = "*.x.com"\nlocation = "y.com"\n', "wildcard prefix cannot have a location"),
    ('[[registry]]\nprefix = "a.io"\n[[registry]]\nlocation = "a.io"\n', "#2: prefix 'a.io' is already used by"),
])
def test_bad_files_are_one_line_errors_naming_the_file(text, message):
    with pytest.raises(UserError, match=message) as caught:
        mirrors.parse(text, "/etc/stackup/registries.conf")
    assert str(caught.value).startswith("/etc/stackup/registries.conf: ")
    assert caught.value.exit_code == 2


def test_file_comes_from_the_environment_or_is_absent(tmp_path, monkeypatch):
    path = tmp_path / "registries.conf"
    monkeypatch.setenv(mirrors.CONF_ENV, str(path))
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    assert RegistrySettings.load().registries.rules == ()
    path.write_text('[[registry]]\nprefix = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:1"\n')
    (rule,) = RegistrySettings.load().registries.rules
    assert rule.prefix == "docker.io" and rule.location == "docker.io"
    assert rule.mirrors == (mirrors.Mirror("127.0.0.1:1"),)
