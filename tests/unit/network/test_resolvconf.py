import pytest

from stackup.engine.network.resolvconf import hosts_file, parse_extra_hosts, resolv_conf
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
                       host_resolv=str(host))
    assert text == "nameserver 10.89.0.1\nsearch svc.local\noptions ndots:2\n"
    # without dns_search the host's search domains apply, host options do not
    assert resolv_conf("10.89.0.1", host_resolv=str(host)) == "nameserver 10.89.0.1\nsearch corp.example\n"


def test_resolv_conf_host_mode(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("# comment\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions edns0\n")
    assert resolv_conf(None, host_resolv=str(host)) == \
        "nameserver 192.0.2.53\nnameserver 192.0.2.54\noptions edns0\n"
    assert resolv_conf(None, dns=["1.1.1.1"], host_resolv=str(host)).startswith("nameserver 1.1.1.1\n")


def test_bad_dns_server():
    with pytest.raises(UserError, match="dns"):
        resolv_conf("10.0.0.1", dns=["resolver.example"])
