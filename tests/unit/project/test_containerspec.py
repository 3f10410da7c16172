"""Service config -> engine container spec arguments, and what the engine refuses."""

import json

import pytest

from stackup.errors import UnsupportedError, UserError
from stackup.project import containerspec as cs
from stackup.stackfile import support

NETS = {"default": {"name": "p_default"}, "back": {"name": "p_back"}}


def args(config, name="p-web-1", service="web"):
    return cs.spec_arguments(config, where=f"services.{service}", container_name=name, service=service,
                             project_networks=NETS, network_name=lambda key, cfg: cfg["name"])


def test_full_service_maps_onto_the_spec():
    config = {
        "image": "busybox", "command": ["httpd", "-f"], "entrypoint": ["/bin/sh", "-c"],
        "environment": {"A": "1", "UNSET": None}, "user": "1000:1000", "working_dir": "/srv",
        "labels": {"x": "y"}, "hostname": "h", "init": True, "read_only": True, "tty": True,
        "cap_add": ["NET_ADMIN"], "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:false"],
        "ulimits": {"nofile": {"soft": 100, "hard": 200}, "nproc": 50},
        "sysctls": {"net.core.somaxconn": "1024"}, "extra_hosts": ["h=1.2.3.4"], "dns": ["9.9.9.9"],
        "restart": "on-failure:3", "stop_signal": "SIGINT", "stop_grace_period": "1m30s",
        "mem_limit": "67108864", "memswap_limit": "134217728", "cpus": 0.5, "pids_limit": 10,
        "shm_size": "33554432", "logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "2"}},
        "networks": {"default": None, "back": {"aliases": ["api"], "priority": 10, "ipv4_address": "10.5.0.9"}},
        "ports": [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp", "host_ip": "127.0.0.1"}],
        "dns_search": ["example.org"],
    }
    a = args(config)
    assert a["entrypoint"] == ["/bin/sh", "-c"] and a["cmd"] == ["httpd", "-f"]
    assert a["env"] == ["A=1"]                      # a name without a value is left out
    assert a["user"] == "1000:1000" and a["working_dir"] == "/srv"
    assert a["ulimits"] == {"nofile": [100, 200], "nproc": [50, 50]}
    assert a["no_new_privileges"] is False
    assert a["restart"] == "on-failure:3" and a["stop_timeout"] == 90
    assert (a["memory"], a["memory_swap"], a["cpus"], a["pids_limit"], a["shm_size"]) == \
        (67108864, 134217728, 0.5, 10, 33554432)
    assert a["log_max_size"] == 1024 * 1024 and a["log_max_files"] == 2
    assert a["network_mode"] == "bridge"
    # the higher priority first; the service name is an alias on every network
    assert list(a["networks"]) == ["p_back", "p_default"]
    assert a["networks"]["p_back"] == {"aliases": ["web", "api"], "ipv4_address": "10.5.0.9",
                                       "ipv6_address": None, "priority": 2}
    extras = json.loads(a["labels"][cs.NETWORK_EXTRAS])
    assert extras == {"dns_search": ["example.org"],
                      "ports": [{"target": 80, "published": "8080", "protocol": "tcp", "host_ip": "127.0.0.1"}]}


def test_network_modes_and_defaults():
    assert args({"network_mode": "host", "networks": {}})["network_mode"] == "host"
    a = args({})
    assert a["network_mode"] == "none" and "networks" not in a
    assert a["restart"] == "no" and a["entrypoint"] is None and a["cmd"] is None


def test_restart_policy_from_deploy():
    assert cs.restart_policy({"deploy": {"restart_policy": {"condition": "any"}}}) == "always"
    assert cs.restart_policy({"deploy": {"restart_policy": {"condition": "on-failure", "max_attempts": 2}}}) \
        == "on-failure:2"
    assert cs.restart_policy({"deploy": {"restart_policy": {"condition": "none"}}}) == "no"
    with pytest.raises(UserError):
        cs.restart_policy({"deploy": {"restart_policy": {"condition": "sometimes"}}})


def test_limits_from_deploy_resources():
    a = args({"deploy": {"resources": {"limits": {"memory": "10485760", "cpus": 0.2, "pids": 5}}}})
    assert (a["memory"], a["cpus"], a["pids_limit"]) == (10485760, 0.2, 5)


def test_healthcheck_in_docker_form_and_merge():
    hc = cs.healthcheck({"healthcheck": {"test": "wget -q localhost", "interval": "2s", "timeout": "500ms",
                                         "retries": 4, "start_period": "1s", "start_interval": "100ms"}}, "w")
    assert hc == {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 2_000_000_000, "Timeout": 500_000_000,
                  "Retries": 4, "StartPeriod": 1_000_000_000, "StartInterval": 100_000_000}
    assert cs.healthcheck({"healthcheck": {"disable": True}}, "w") == {"Test": ["NONE"]}
    assert cs.healthcheck({}, "w") is None
    image = {"Test": ["CMD", "true"], "Interval": 5}
    assert cs.merge_healthcheck(image, None) == image
    assert cs.merge_healthcheck(image, {"Interval": 7}) == {"Test": ["CMD", "true"], "Interval": 7}
    assert cs.merge_healthcheck(image, {"Test": ["NONE"]}) == {"Test": ["NONE"]}
    assert cs.merge_healthcheck(None, None) == {}


def test_security_opt_not_supported_is_named():
    with pytest.raises(UnsupportedError, match=r"^services.web.security_opt 'apparmor=unconfined' is not supported"):
        args({"security_opt": ["apparmor=unconfined"]})


def test_unsupported_attributes_are_named():
    config = {"storage_opt": {"size": "1G"}, "gpus": "all", "network_mode": "bogus",
              "deploy": {"placement": {"constraints": ["x"]}, "resources": {"reservations": {"cpus": 1},
                                                                          "limits": {"devices": [{"count": 1}]}}},
              "logging": {"driver": "syslog"}, "networks": {"default": {"link_local_ips": ["x"]}}}
    found = support.unsupported_service("web", config)
    assert found == ["services.web.gpus (no GPU device requests in stackup's runtime)",
                     "services.web.storage_opt (overlay storage has no per-container size quota here)",
                     "services.web.network_mode (bogus)", "services.web.deploy.placement",
                     "services.web.deploy.resources.limits.devices", "services.web.logging.driver (syslog)",
                     "services.web.networks.default.link_local_ips"]
    assert support.unsupported_service("web", {"image": "x", "deploy": {"replicas": 2, "resources": {}}}) == []


def test_every_attribute_of_the_model_is_honoured_or_refused():
    """A new attribute in the spec's model fails here until someone decides, in the
    table of supported attributes, whether the engine honours it or refuses it."""
    from stackup.stackfile.shape import schema

    model = set(schema()["$defs"]["ServiceModel"]["properties"])
    refused, honoured = support.UNSUPPORTED_SERVICE_KEYS, support.HONOURED_SERVICE_KEYS
    assert not refused & honoured
    assert model == refused | honoured


def _session(services=None, networks=None, volumes=None, **others):
    from stackup.project.session import Session

    desired = {"services": services or {}, "networks": networks or {}, "volumes": volumes or {}, **others}
    return Session(name="p", desired=desired, engine=None)


def _refused(**kwargs):
    with pytest.raises(UnsupportedError) as info:
        _session(**kwargs).check_supported()
    return [line for line in info.value.lines()]


@pytest.mark.parametrize("attribute", sorted(support.UNSUPPORTED_SERVICE_KEYS))
def test_each_unsupported_attribute_is_refused_by_name(attribute):
    lines = _refused(services={"web": {"image": "busybox", attribute: "x"}})
    why = f" ({support.REFUSAL_REASONS[attribute]})" if attribute in support.REFUSAL_REASONS else ""
    assert lines == [f"services.web.{attribute}{why} is not supported by stackup"]


@pytest.mark.parametrize(("config", "line"), [
    ({"runtime": "nvidia"}, "services.web.runtime (nvidia: stackup runs containers as runc does, on its own runtime)"),
    ({"userns_mode": "private"}, "services.web.userns_mode (private: only host)"),
    ({"platform": "windows/amd64"}, "services.web.platform (windows/amd64: stackup runs this machine's platform only"),
])
def test_values_other_than_the_honoured_ones_are_refused_by_name(config, line):
    lines = _refused(services={"web": {"image": "busybox", **config}})
    assert len(lines) == 1 and lines[0].startswith(line)


def test_the_native_platform_runc_and_host_userns_run():
    from stackup.engine.images import platform

    config = {"image": "busybox", "platform": str(platform.host()), "runtime": "runc", "userns_mode": "host"}
    assert support.unsupported_service("web", config) == []


@pytest.mark.parametrize("config, line", [
    ({"deploy": {"mode": "global"}}, "services.web.deploy.mode"),
    ({"deploy": {"restart_policy": {"condition": "on-failure", "delay": "5s"}}},
     "services.web.deploy.restart_policy.delay"),
    ({"deploy": {"restart_policy": {"condition": "any", "window": "1m"}}},
     "services.web.deploy.restart_policy.window"),
    ({"deploy": {"update_config": {"parallelism": 2}}}, "services.web.deploy.update_config"),
    ({"deploy": {"resources": {"reservations": {"generic_resources": [{"x": 1}]}}}},
     "services.web.deploy.resources.reservations.generic_resources"),
    ({"logging": {"driver": "json-file", "options": {"compress": "true"}}}, "services.web.logging.options.compress"),
    ({"volumes": [{"type": "bind", "source": "/tmp", "target": "/x", "bind": {"propagation": "rshared"}}]},
     "services.web.volumes[0].bind.propagation (rshared: mounts made in a container reaching the host "
     "are not built yet; rslave and slave are)"),
    ({"networks": {"default": {"link_local_ips": ["fe80::5"]}}}, "services.web.networks.default.link_local_ips"),
])
def test_unsupported_details_are_refused_by_name(config, line):
    assert _refused(services={"web": {"image": "busybox", **config}}) == [f"{line} is not supported by stackup"]


def test_shared_namespaces_devices_and_files_are_honoured():
    config = {"image": "busybox", "network_mode": "service:db", "ipc": "container:x", "pid": "host",
              "uts": "host", "cgroup": "host", "volumes_from": ["db:ro"], "devices": ["/dev/null"],
              "device_cgroup_rules": ["c 1:3 mr"], "group_add": ["mail"], "secrets": ["s"], "configs": ["c"]}
    desired = {"services": {"web": config}, "secrets": {"s": {"file": "s.txt"}}, "configs": {"c": {"content": "x"}}}
    assert support.unsupported_attributes(desired) == []
    assert support.unsupported_service("web", {"image": "busybox", "network_mode": "container:abc"}) == []


def test_external_secrets_and_configs_are_refused_by_name():
    found = _refused(services={"web": {"image": "busybox"}}, secrets={"s": {"external": True}},
                     configs={"c": {"external": True, "name": "c"}})
    assert found == ["secrets.s.external (no secret or config store here: give file, environment or content)"
                     " is not supported by stackup",
                     "configs.c.external (no secret or config store here: give file, environment or content)"
                     " is not supported by stackup"]


@pytest.mark.parametrize("networks, volumes, line", [
    ({"back": {"driver": "overlay"}}, {}, "networks.back.driver (overlay)"),
    ({"back": {"driver_opts": {"com.docker.network.bridge.name": "br0"}}}, {},
     "networks.back.driver_opts.com.docker.network.bridge.name"),
    ({"back": {"ipam": {"driver": "dhcp"}}}, {}, "networks.back.ipam.driver (dhcp)"),
    ({}, {"data": {"driver": "nfs"}}, "volumes.data.driver (nfs)"),
    ({}, {"data": {"driver_opts": {"size": "10G"}}}, "volumes.data.driver_opts.size"),
])
def test_unsupported_networks_and_volumes_are_refused_by_name(networks, volumes, line):
    assert _refused(networks=networks, volumes=volumes) == [f"{line} is not supported by stackup"]


def test_what_the_engine_honours_passes():
    ok = {"image": "busybox", "deploy": {"mode": "replicated", "replicas": 2,
                                         "restart_policy": {"condition": "on-failure", "max_attempts": 3},
                                         "resources": {"limits": {"cpus": 0.5, "memory": 1 << 20}}},
          "logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "2"}},
          "volumes": [{"type": "bind", "source": "/tmp", "target": "/x", "bind": {"propagation": "rprivate"}}],
          "ports": [{"target": 80, "published": "8080", "mode": "ingress"}],
          "networks": {"default": {"aliases": ["a"], "ipv4_address": "10.5.0.5", "priority": 1}}}
    _session(services={"web": ok}, networks={"default": {"driver": "bridge", "driver_opts": {
        "com.docker.network.driver.mtu": "1400"}}, "ext": {"external": True, "driver": "overlay"}},
        volumes={"data": {"driver": "local"}}).check_supported()


def test_selinux_relabel_is_ignored_where_selinux_is_not_enabled(monkeypatch):
    config = {"image": "busybox", "volumes": [{"type": "bind", "source": "/tmp", "target": "/x",
                                               "bind": {"selinux": "Z"}}]}
    monkeypatch.setattr(support, "selinux_enabled", lambda: False)
    assert support.unsupported_service("web", config) == []
    monkeypatch.setattr(support, "selinux_enabled", lambda: True)
    assert support.unsupported_service("web", config) == [
        "services.web.volumes[0].bind.selinux (relabelling for SELinux is not built yet)"]


def test_links_become_aliases_on_every_network():
    a = args({"networks": {"default": None, "back": None}, "links": ["db:database", "cache"],
              "external_links": ["legacy-mail:mail", "plain"]})
    for net in ("p_back", "p_default"):
        assert a["networks"][net]["links"] == {"database": "db", "mail": "legacy-mail"}  # no alias: no link


def test_mac_address_on_the_primary_network_or_per_network():
    a = args({"mac_address": "02:42:AC:11:00:99", "networks": {"default": None, "back": {"priority": 5}}})
    assert a["networks"]["p_back"]["mac_address"] == "02:42:ac:11:00:99"
    assert "mac_address" not in a["networks"]["p_default"]
    a = args({"networks": {"default": {"mac_address": "02:00:00:00:00:01"}, "back": None}})
    assert a["networks"]["p_default"]["mac_address"] == "02:00:00:00:00:01"
    with pytest.raises(UserError, match=r"services.web.networks.default.mac_address: 'nope'"):
        args({"networks": {"default": {"mac_address": "nope"}}})
    with pytest.raises(UserError, match="multicast"):
        args({"mac_address": "01:00:5e:00:00:01", "networks": {"default": None}})
    with pytest.raises(UserError, match="differs"):
        args({"mac_address": "02:00:00:00:00:02", "networks": {"default": {"mac_address": "02:00:00:00:00:01"}}})


def test_cgroup_parent_is_refused_with_its_reason():
    found = support.unsupported_service("web", {"cgroup_parent": "m-executor"})
    assert found == ["services.web.cgroup_parent (one parent per container is not built yet; "
                     "STACKUP_CGROUP_PARENT moves every container's)"]
