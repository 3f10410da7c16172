from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as hs

from stackup.project import naming

SERVICE = {
    "command": ["httpd", "-f"],
    "entrypoint": None,
    "image": "busybox",
    "environment": {"A": "1", "B": None},
    "networks": {"default": None},
    "labels": {"com.example.team": "web"},
}


def test_container_and_resource_names():
    assert naming.container_name("webdemo", "web", 1) == "webdemo-web-1"
    assert naming.container_name("webdemo", "web", 3, {"container_name": "front"}) == "front"
    assert naming.oneoff_name("webdemo", "web", "0a1b2c3d4e5f") == "webdemo-web-run-0a1b2c3d4e5f"
    assert len(naming.new_oneoff_token()) == 12
    assert naming.moved_aside_name("0123456789abcdef", "webdemo-web-1") == "0123456789ab_webdemo-web-1"
    assert naming.network_name("webdemo", "default", {"name": "webdemo_default"}) == "webdemo_default"
    assert naming.network_name("webdemo", "front", {"name": "custom"}) == "custom"
    assert naming.network_name("webdemo", "outside", {"external": True}) == "outside"
    assert naming.network_name("webdemo", "back") == "webdemo_back"
    assert naming.volume_name("webdemo", "site", {}) == "webdemo_site"
    assert naming.service_image("shop", "api", {"build": {"context": "."}}) == "shop-api"
    assert naming.service_image("shop", "api", {"image": "x:1", "build": {}}) == "x:1"


def test_container_labels_carry_everything_ps_and_down_need():
    labels = naming.container_labels(
        "webdemo", "web", 2, dict(SERVICE, depends_on={"db": {"condition": "service_healthy", "restart": True},
                                                      "cache": {"condition": "service_started"}}),
        config_hash="abc", config_files=["/s/compose.yaml", "/s/override.yaml"], working_dir="/s")
    assert labels == {
        "com.example.team": "web",
        "io.stackup.project": "webdemo",
        "io.stackup.version": "1",
        "io.stackup.service": "web",
        "io.stackup.number": "2",
        "io.stackup.oneoff": "False",
        "io.stackup.config-hash": "abc",
        "io.stackup.depends-on": "cache:service_started:false,db:service_healthy:true",
        "io.stackup.config-files": "/s/compose.yaml,/s/override.yaml",
        "io.stackup.working-dir": "/s",
    }
    assert naming.decode_depends_on(labels[naming.DEPENDS_ON]) == {
        "cache": {"condition": "service_started", "restart": False},
        "db": {"condition": "service_healthy", "restart": True}}


def test_user_labels_cannot_hide_a_container_from_its_project():
    config = dict(SERVICE, labels={"io.stackup.project": "other", "io.stackup.service": "x"})
    labels = naming.container_labels("webdemo", "web", 1, config, config_hash="h", oneoff=True)
    assert labels["io.stackup.project"] == "webdemo" and labels["io.stackup.service"] == "web"
    assert labels["io.stackup.oneoff"] == "True"


def test_network_and_volume_labels():
    assert naming.network_labels("p", "default", {"labels": {"a": "b"}}) == {
        "a": "b", "io.stackup.project": "p", "io.stackup.version": "1", "io.stackup.network": "default"}
    assert naming.volume_labels("p", "data")["io.stackup.volume"] == "data"


def test_config_hash_is_sha256_of_canonical_json():
    h = naming.config_hash(SERVICE)
    assert len(h) == 64 and int(h, 16) >= 0
    assert h == naming.config_hash(dict(reversed(list(SERVICE.items()))))


def test_config_hash_ignores_what_compose_ignores():
    h = naming.config_hash(SERVICE)
    for key, value in [("build", {"context": "."}), ("pull_policy", "always"), ("scale", 3),
                       ("depends_on", {"db": {"condition": "service_started"}}), ("profiles", ["debug"]),
                       ("x-note", "hello")]:
        assert naming.config_hash(dict(SERVICE, **{key: value})) == h, key
    with_deploy = dict(SERVICE, deploy={"replicas": 2, "resources": {}})
    assert naming.config_hash(with_deploy) == naming.config_hash(dict(SERVICE, deploy={"replicas": 5,
                                                                                          "resources": {}}))
    assert naming.config_hash(with_deploy) != h  # the rest of deploy counts


def test_config_hash_changes_with_what_the_container_runs():
    h = naming.config_hash(SERVICE)
    for key, value in [("command", ["httpd"]), ("image", "busybox:1.36"), ("environment", {"A": "2"}),
                       ("networks", {"default": None, "back": None}), ("labels", {}),
                       ("ports", [{"target": 80}]), ("healthcheck", {"test": ["NONE"]})]:
        assert naming.config_hash(dict(SERVICE, **{key: value})) != h, key


def test_config_hash_does_not_mutate_its_input():
    service = dict(SERVICE, deploy={"replicas": 2})
    before = copy.deepcopy(service)
    naming.config_hash(service)
    assert service == before


json_values = hs.recursive(hs.none() | hs.booleans() | hs.integers() | hs.text(max_size=5),
                           lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(hs.text(max_size=4), inner,
                                                                                         max_size=3),
                           max_leaves=10)


@given(hs.dictionaries(hs.text(min_size=1, max_size=8), json_values, max_size=6))
def test_config_hash_is_stable_under_key_order(service):
    shuffled = dict(sorted(service.items(), reverse=True))
    assert naming.config_hash(service) == naming.config_hash(shuffled)


def test_service_scale_precedence():
    assert naming.service_scale({}) == 1
    assert naming.service_scale({"deploy": {"replicas": 3}}) == 3
    assert naming.service_scale({"scale": 2, "deploy": {"replicas": 2}}) == 2
    assert naming.service_scale({"scale": 2}, override=5) == 5
    assert naming.service_scale({"deploy": {"replicas": 0}}) == 0
