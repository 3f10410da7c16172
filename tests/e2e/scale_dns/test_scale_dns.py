"""Scaling `web` down from 3 to 1 drops the name records of the removed replicas and
keeps the remaining one's: right after each `up -d --scale web=1` returns, `web`
resolves to exactly web-1's address, and web-1 is the container it was (issue 14: the
name once resolved to nothing for 20 s and more: the bridge took the MAC of its
lowest-addressed port and changed it when that replica's veth went, so the gateway,
where the DNS server answers, was unreachable until the containers probed it again.
Which veth has the lowest MAC is random: hence the rounds)."""

import re

import pytest

pytestmark = pytest.mark.root

ROUNDS = 8


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return stackup_busybox


def addresses(stack, name: str) -> list[str]:
    """The addresses the client's resolver gives `name` (busybox nslookup, past the
    server's own lines); [] when the name does not resolve."""
    out = stack.exec("client", f"nslookup {name}", check=False).stdout
    answer = out.split("Name:", 1)[1] if "Name:" in out else ""
    return sorted(re.findall(r"Address:\s*([0-9.]+)", answer))


def own_address(stack, service: str, index: int = 1) -> str:
    return stack.exec(service, "ip -4 -o addr show eth0", index=index).stdout.split()[3].split("/")[0]


def test_scale_down_keeps_the_remaining_replicas_name(stackup_stack):
    stack = stackup_stack("compose.yaml")
    web1 = {row["Name"]: row["ID"] for row in stack.ps()}["e2e-scaledns-web-1"]
    ip1 = own_address(stack, "web")
    assert addresses(stack, "web") == [ip1]
    for round_ in range(ROUNDS):
        stack("up", "-d", "--scale", "web=3")
        up = sorted(own_address(stack, "web", n) for n in (1, 2, 3))
        assert addresses(stack, "web") == up, f"round {round_}: scaled up"
        stack("up", "-d", "--scale", "web=1")
        rows = {row["Name"]: row["ID"] for row in stack.ps() if row["Service"] == "web"}
        assert rows == {"e2e-scaledns-web-1": web1}, f"round {round_}: web-1 was replaced"
        assert addresses(stack, "web") == [ip1], f"round {round_}: scaled down"
        assert addresses(stack, "e2e-scaledns-web-1") == [ip1]
        for gone in (2, 3):
            assert addresses(stack, f"e2e-scaledns-web-{gone}") == [], f"round {round_}: web-{gone} kept"
