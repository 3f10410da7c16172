"""`links` and `external_links`: an alias resolves, from the linking container only, to
the linked service's container or to a container outside the project; a link is a
dependency (`up client` starts server). `mac_address`, of the service and per network,
is the interface's address inside the container."""

import re

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return stackup_busybox


def _addresses(stack, service: str, name: str, check: bool = True) -> list[str]:
    """The addresses the container's resolver gives `name` (busybox nslookup, past the
    server's own lines)."""
    out = stack.exec(service, f"nslookup {name}", check=check).stdout
    answer = out.split("Name:", 1)[1] if "Name:" in out else ""
    return re.findall(r"Address:\s*([0-9a-f.:]+)", answer)


def _mac(stack, service: str, ifname: str = "eth0") -> str:
    return stack.exec(service, f"cat /sys/class/net/{ifname}/address").stdout.strip()


def test_links_resolve_for_the_linker_and_macs_are_set(stackup_stack):
    stackup_stack("outside.yaml", project="linkse2e-outside")
    stack = stackup_stack("compose.yaml", services=["client"])
    # the link is a dependency: server runs too, bystander was not asked for
    assert sorted(row["Service"] for row in stack.ps()) == ["client", "server"]
    stack("up", "-d")

    server = _addresses(stack, "client", "server")
    assert server and _addresses(stack, "client", "backend") == server
    legacy = _addresses(stack, "client", "linkse2e-legacy")
    assert legacy and _addresses(stack, "client", "oldmail") == legacy
    # the aliases are the linker's own: the bystander, on the same networks, has neither
    assert _addresses(stack, "bystander", "server") == server
    assert _addresses(stack, "bystander", "backend", check=False) == []
    assert _addresses(stack, "bystander", "oldmail", check=False) == []
    # and they reach the containers: ping by the alias
    assert stack.exec("client", "ping -c 1 -W 5 backend").returncode == 0

    # the service's mac_address on its primary network (default, priority 10), the
    # network's own on server's; other interfaces keep a derived one
    assert _mac(stack, "client") == "02:42:0a:e2:00:42"
    assert _mac(stack, "server") == "02:42:0a:e2:00:43"
    assert _mac(stack, "client", "eth1") not in ("02:42:0a:e2:00:42", "")
