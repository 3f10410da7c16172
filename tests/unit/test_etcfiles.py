"""A container's /etc/hosts and /etc/resolv.conf, as the runtime and the network engine write them."""

import pytest

from stackup.engine.etcfiles import FALLBACK_SERVERS, host_resolv, hosts_file, parse_extra_hosts, resolv_conf
from stackup.errors import UserError


def test_hosts_file_has_localhost_own_name_and_extra_hosts():
    text = hosts_file("web", ["10.0.0.2"], ["db:10.0.0.9", "gw=host-gateway", "v6:::1"],
                      host_gateway="10.0.0.1")
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.0.0.2\tweb" in lines
    assert "10.0.0.9\tdb" in lines
    assert "10.0.0.1\tgw" in lines
    assert "::1\tv6" in lines


def test_extra_hosts_mapping_with_several_addresses():
    assert parse_extra_hosts({"a": ["1.2.3.4", "5.6.7.8"], "b": "9.9.9.9"}) == [
        ("a", "1.2.3.4"), ("a", "5.6.7.8"), ("b", "9.9.9.9")]


@pytest.mark.parametrize("bad", [["nohost"], ["x:not-an-ip"], ["gw:host-gateway"]])
def test_bad_extra_hosts(bad):
    with pytest.raises(UserError, match="extra_hosts"):
        parse_extra_hosts(bad)


def test_hosts_file_with_domainname():
    assert "10.0.0.2\tweb.example.org web\n" in hosts_file("web", ["10.0.0.2"], domainname="example.org")


def test_resolv_conf_on_a_network(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\nsearch corp.example\noptions rotate\n")
    text = resolv_conf("10.89.0.1", dns=["9.9.9.9"], dns_search=["svc.local"], dns_opt=["ndots:2"],
                       host_resolv_path=str(host))
    assert text == "nameserver 10.89.0.1\nsearch svc.local\noptions ndots:2\n"
    # without dns_search the host's search domains apply, host options do not
    assert resolv_conf("10.89.0.1", host_resolv_path=str(host)) == "nameserver 10.89.0.1\nsearch corp.example\n"


def test_resolv_conf_host_mode(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("# comment\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions edns0\n")
    assert resolv_conf(None, host_resolv_path=str(host)) == \
        "nameserver 192.0.2.53\nnameserver 192.0.2.54\noptions edns0\n"
    assert resolv_conf(None, dns=["1.1.1.1"], host_resolv_path=str(host)).startswith("nameserver 1.1.1.1\n")


def test_bad_dns_server():
    with pytest.raises(UserError, match="dns"):
        resolv_conf("10.0.0.1", dns=["resolver.example"])


def test_host_resolv_reads_servers_search_and_options(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("; comment\nnameserver 192.0.2.53\nnameserver\ndomain a.example\n"
                    "search b.example c.example\noptions ndots:1\noptions rotate\n")
    found = host_resolv(str(host))
    assert found.servers == ["192.0.2.53"] and found.search == ["b.example", "c.example"]
    assert found.options == ["ndots:1", "rotate"]
    assert host_resolv(str(tmp_path / "missing")).servers == []


def test_off_the_hosts_network_its_loopback_resolvers_are_replaced(tmp_path):
    """network_mode none or container:, as Docker does: 127.0.0.53 (systemd-resolved)
    is the container's own loopback there."""
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver ::1\nsearch lan\n")
    assert resolv_conf(None, host_resolv_path=str(host), host_network=False) == \
        "".join(f"nameserver {s}\n" for s in FALLBACK_SERVERS) + "search lan\n"
    host.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.53\n")
    assert resolv_conf(None, host_resolv_path=str(host), host_network=False) == "nameserver 192.0.2.53\n"
    # on the host's network they are reachable as they are
    assert resolv_conf(None, host_resolv_path=str(host)).startswith("nameserver 127.0.0.53\n")


def test_hosts_file_off_a_network():
    """network_mode none: the container's name on a loopback address of its own."""
    text = hosts_file("box", extra_hosts=["db=10.0.0.9"])
    assert "127.0.1.1\tbox\n" in text and text.endswith("10.0.0.9\tdb\n")
    assert "127.0.1.1" not in hosts_file(None)
