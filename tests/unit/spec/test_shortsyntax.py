"""Short syntaxes (ports, volumes)."""

from __future__ import annotations

import pytest

from stackup.spec.shortsyntax import SyntaxProblem, parse_ports, parse_volume


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

