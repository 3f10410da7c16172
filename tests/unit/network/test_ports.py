import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackup.engine.network.ports import PortBinding, parse_ports
from stackup.errors import UnsupportedError, UserError


@pytest.mark.parametrize("spec,expected", [
    ("80", [PortBinding(80)]),
    (80, [PortBinding(80)]),
    ("8080:80", [PortBinding(80, host_port=8080)]),
    ("53:53/udp", [PortBinding(53, "udp", host_port=53)]),
    ("127.0.0.1:8080:80", [PortBinding(80, host_ip="127.0.0.1", host_port=8080)]),
    ("127.0.0.1::80", [PortBinding(80, host_ip="127.0.0.1")]),
    ("[::1]:8080:80/tcp", [PortBinding(80, host_ip="::1", host_port=8080)]),
    ("8000-8001:80-81", [PortBinding(80, host_port=8000), PortBinding(81, host_port=8001)]),
    ("3000-3002", [PortBinding(3000), PortBinding(3001), PortBinding(3002)]),
    ("9000-9009:80", [PortBinding(80, host_port=9000, host_port_end=9009)]),
    ({"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "udp"},
     [PortBinding(80, "udp", "127.0.0.1", 8080)]),
    ({"target": 80}, [PortBinding(80)]),
])
def test_parse(spec, expected):
    assert parse_ports([spec]) == expected


@pytest.mark.parametrize("spec,match", [
    # the short syntax, as the stack file's parser reads it
    ("80/xyz", "invalid protocol 'xyz'"),
    ("abc", "invalid container port 'abc'"),
    ("8000-8002:80-81", "invalid ranges specified"),
    ("70000", "not a valid port"),
    ("999.1.1.1:80:80", "invalid IP address"),
    # what the engine can publish of the long syntax
    ("0:80", "within 1-65535"),
    ({"target": 80, "published": "8000-8002", "protocol": "udp", "host_ip": "::1", "mode": "x"}, "mode"),
    ({"target": "80-81", "published": "8000-8002"}, "differ in size"),
    ({"target": 80, "protocol": "xyz"}, "must be tcp or udp"),
    ({"target": 80, "host_ip": "nowhere"}, "not an IP address"),
    ({"published": 80}, "target is required"),
])
def test_bad_specs(spec, match):
    with pytest.raises(UserError, match=match):
        parse_ports([spec])


def test_sctp_is_named_as_unsupported():
    with pytest.raises(UnsupportedError, match="sctp"):
        parse_ports(["80/sctp"])


def test_str_shows_binding():
    assert str(PortBinding(80, "tcp", "127.0.0.1", 8080)) == "127.0.0.1:8080->80/tcp"
    assert str(PortBinding(53, "udp", "", 5353)) == "0.0.0.0:5353->53/udp"


PORT_TEXT = st.text(alphabet="0123456789.:-/[]abcdtpu ", max_size=30)


@given(PORT_TEXT)
def test_any_text_is_bindings_or_a_user_error(text):
    try:
        bindings = parse_ports([text])
    except UserError:
        return
    for b in bindings:
        assert 1 <= b.container_port <= 65535 and b.protocol in ("tcp", "udp")
        assert 0 <= b.host_port <= 65535
