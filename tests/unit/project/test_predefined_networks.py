"""Networks of the host and none drivers (compose's mapping) and the drivers' options
that `up` honours: macvlan and ipvlan with theirs, the others' still refused (pure)."""

import pytest

from stackup.errors import UserError
from stackup.project import containerspec as cs
from stackup.project.naming import predefined_network_mode
from stackup.stackfile import support

NETS = {"default": {"name": "p_default"}, "hostnet": {"name": "p_hostnet", "driver": "host"},
        "nonet": {"name": "p_nonet", "driver": "none"}, "ext": {"name": "host", "external": True},
        "lan": {"name": "p_lan", "driver": "macvlan", "driver_opts": {"parent": "eth9"}}}


def args(config):
    return cs.spec_arguments(config, where="services.web", container_name="p-web-1", service="web",
                             project_networks=NETS, network_name=lambda key, cfg: cfg["name"])


@pytest.mark.parametrize(("config", "mode"), [
    ({"driver": "host"}, "host"), ({"driver": "none"}, "none"), ({"driver": "null"}, "none"),
    ({"external": True, "name": "host"}, "host"), ({"external": True, "name": "none"}, "none"),
    ({"driver": "bridge"}, None), ({"driver": "macvlan"}, None), ({"name": "host"}, None), (None, None),
])
def test_which_networks_stand_for_host_or_none(config, mode):
    assert predefined_network_mode(config) == mode


@pytest.mark.parametrize(("key", "mode"), [("hostnet", "host"), ("nonet", "none"), ("ext", "host")])
def test_a_service_on_such_a_network_gets_its_network_mode_and_no_attachment(key, mode):
    got = args({"networks": {key: None}})
    assert got["network_mode"] == mode and "networks" not in got


def test_such_a_network_cannot_be_shared_with_others():
    with pytest.raises(UserError, match=r"services.web.networks: network hostnet is the host network.*\(default\)"):
        args({"networks": {"default": None, "hostnet": None}})


def test_a_macvlan_network_is_an_attachment_like_a_bridge():
    assert list(args({"networks": {"lan": None}})["networks"]) == ["p_lan"]


def test_drivers_and_their_options_honoured_or_refused():
    def refused(config):
        return support.unsupported_network("n", config)

    for driver in ("macvlan", "ipvlan", "host", "none"):
        assert refused({"driver": driver}) == []
    assert refused({"driver": "macvlan", "driver_opts": {"parent": "eth0", "macvlan_mode": "vepa"}}) == []
    assert refused({"driver": "ipvlan", "driver_opts": {"parent": "eth0", "ipvlan_mode": "l3"}}) == []
    assert refused({"driver": "bridge", "driver_opts": {"parent": "eth0"}}) == ["networks.n.driver_opts.parent"]
    assert refused({"driver": "overlay"}) == ["networks.n.driver (overlay)"]
    assert refused({"driver": "macvlan", "driver_opts": {"foo": "1"}}) == ["networks.n.driver_opts.foo"]
