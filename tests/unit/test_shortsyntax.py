"""Short syntaxes (ports, volumes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackup.errors import UserError
from stackup.shortsyntax import VOLUME_OPTIONS, SyntaxProblem, parse_ports, parse_volume


def test_ports():
    assert parse_ports("127.0.0.1:8001:8001/udp") == [
        {"mode": "ingress", "target": 8001, "protocol": "udp", "host_ip": "127.0.0.1", "published": "8001"}]
    assert [p["target"] for p in parse_ports("3001-3003")] == [3001, 3002, 3003]
    assert parse_ports("6005-6015:80")[0]["published"] == "6005-6015"
    assert parse_ports("[::1]:80:80")[0]["host_ip"] == "::1"
    with pytest.raises(SyntaxProblem, match='"80800" is not a valid port'):
        parse_ports("80800")
    with pytest.raises(SyntaxProblem):
        parse_ports("1-3:4-5")


def test_volumes():
    assert parse_volume("./data:/data:ro") == {"source": "./data", "target": "/data", "read_only": True,
                                               "type": "bind", "bind": {"create_host_path": True}}
    assert parse_volume("db:/var/lib/db") == {"source": "db", "target": "/var/lib/db", "type": "volume",
                                              "volume": {}}
    assert parse_volume("/anon") == {"target": "/anon", "type": "volume", "volume": {}}
    with pytest.raises(SyntaxProblem, match="empty section"):
        parse_volume(":/x")



def test_volume_options():
    assert parse_volume("data:/d:nocopy")["volume"] == {"nocopy": True}
    assert parse_volume("/srv:/srv:rshared,z")["bind"] == {"create_host_path": True, "propagation": "rshared",
                                                            "selinux": "z"}
    assert "read_only" not in parse_volume("data:/d:ro,rw")
    # compose ignores an option it does not know; `docker run -v` refuses it
    assert parse_volume("data:/d:bogus") == parse_volume("data:/d")
    assert parse_volume("data:/d:cached", strict=True) == parse_volume("data:/d")
    with pytest.raises(SyntaxProblem, match="unknown option 'bogus'"):
        parse_volume("data:/d:bogus", strict=True)


def test_problems_are_user_errors():
    """The engine's and the CLI's callers let them through to the user as they are."""
    with pytest.raises(UserError, match="too many colons"):
        parse_volume("data:/b:ro:x")


NAMES = st.text(alphabet="abcxyz019_-", min_size=2, max_size=8).filter(lambda s: s[0].isalnum())
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
PORTS = st.integers(min_value=1, max_value=65535)


@given(st.one_of(NAMES, PATHS, st.just("")), PATHS,
       st.lists(st.sampled_from(VOLUME_OPTIONS), max_size=3, unique=True))
def test_a_short_volume_reads_as_what_it_says(source, target, options):
    text = ":".join([p for p in (source, target) if p] + ([",".join(options)] if options and source else []))
    long = parse_volume(text, strict=True)
    assert long["target"] == target and long.get("source", "") == source
    assert long["type"] == ("bind" if source.startswith("/") else "volume")
    if source:
        assert long.get("read_only", False) == ("ro" in options and options.index("ro") > max(
            [options.index("rw")] if "rw" in options else [-1]))


@given(st.text(alphabet="abc/.:~-_rowz,${}", max_size=25))
def test_any_short_volume_parses_or_is_a_syntax_problem(text):
    try:
        long = parse_volume(text, strict=True)
    except SyntaxProblem:
        return
    assert long["type"] in ("volume", "bind") and "target" in long


@given(st.one_of(st.just(""), st.ip_addresses().map(str)), st.one_of(st.none(), PORTS), PORTS,
       st.integers(min_value=0, max_value=3), st.sampled_from(["", "/tcp", "/udp", "/sctp", "/UDP"]))
def test_a_short_port_reads_as_what_it_says(ip, host, container, extra, proto):
    """`[ip:][host[-end]:]container[-end][/proto]`: one entry per container port, each
    published on the host port at the same offset."""
    last = min(container + extra, 65535)
    if host is not None:
        last = min(last, container + 65535 - host)
    crange = f"{container}-{last}" if last > container else str(container)
    hrange = "" if host is None else (f"{host}-{host + last - container}" if last > container else str(host))
    shown_ip = f"[{ip}]" if ":" in ip else ip
    text = ":".join(p for p in (shown_ip, hrange) if p or ip) + (":" if ip or host is not None else "")
    text += crange + proto
    entries = parse_ports(text)
    assert sorted(e["target"] for e in entries) == list(range(container, last + 1))
    for entry in entries:
        assert entry["protocol"] == (proto[1:].lower() or "tcp") and entry.get("host_ip", "") == ip
        offset = entry["target"] - container
        assert entry.get("published") == (None if host is None else str(host + offset))


@given(st.text(alphabet="0123456789.:-/[]abcdtpu ", max_size=30))
def test_any_short_port_parses_or_is_a_syntax_problem(text):
    try:
        entries = parse_ports(text)
    except SyntaxProblem:
        return
    for entry in entries:
        assert 0 <= entry["target"] <= 65535 and entry["protocol"] in ("tcp", "udp", "sctp")
