"""A macvlan network through the CLI, on a parent the test makes: services reach the LAN
beyond the parent and each other by name, with no host-side interface; networks of the
host and none drivers give their services the host's network and none; `down -v` leaves
nothing, on the parent either."""

import secrets
import subprocess
import time

import pytest

pytestmark = pytest.mark.root


def sh(stack, service: str, command: str) -> str:
    return stack("exec", "-T", service, "sh", "-c", command).stdout


def parent_has_uppers(parent: str) -> bool:
    """A link with macvlan interfaces on it (in any namespace) cannot be a bridge port."""
    bridge = f"stb{secrets.token_hex(4)}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        busy = subprocess.run(["ip", "link", "set", parent, "master", bridge], capture_output=True).returncode
        subprocess.run(["ip", "link", "set", parent, "nomaster"], capture_output=True)
        return busy != 0
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


@pytest.fixture
def lan():
    """A namespace beyond a veth pair whose host end is the parent; an HTTP server in it."""
    name, parent = f"stktest-{secrets.token_hex(4)}", f"stl{secrets.token_hex(4)}"
    prefix = f"198.19.{secrets.randbelow(250) + 1}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    server = None
    try:
        subprocess.run(["ip", "link", "add", parent, "type", "veth", "peer", "name", "eth0", "netns", name],
                       check=True)
        subprocess.run(["ip", "link", "set", parent, "up"], check=True)
        for cmd in (["ip", "addr", "add", f"{prefix}.1/24", "dev", "eth0"], ["ip", "link", "set", "eth0", "up"],
                    ["ip", "link", "set", "lo", "up"]):
            subprocess.run(["ip", "netns", "exec", name, *cmd], check=True)
        server = subprocess.Popen(["ip", "netns", "exec", name, "busybox", "nc", "-ll", "-p", "81",
                                   "-e", "echo", "from the lan"])
        yield parent, prefix
    finally:
        if server:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", parent], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_macvlan_host_and_none_networks(stack, lan):
    parent, prefix = lan
    stack.env["PARENT"], stack.env["PREFIX"] = parent, prefix
    stack("up", "-d")
    # the client's interface sits on the parent (its link is the parent), in its namespace only
    assert f"{prefix}.20/24" in sh(stack, "client", "ip -o addr show eth0")
    with open(f"/sys/class/net/{parent}/ifindex") as f:
        assert sh(stack, "client", "cat /sys/class/net/eth0/iflink") == f.read()
    assert not [n for n in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.split("\n")
                if f"@{parent}:" in n]
    # services find each other by name, and reach the LAN beyond the parent
    assert sh(stack, "client", "wget -qO- http://server:8080/") == "from the server\n"
    assert "from the lan" in sh(stack, "client", f"nc {prefix}.1 81 </dev/null")
    # driver host: the host's interfaces (the parent among them); driver none: loopback only
    assert parent in sh(stack, "onhost", "ip -o link")
    assert sh(stack, "alone", "ls /sys/class/net").split() == ["lo"]
    networks = stack("network", "ls").stdout
    assert "e2e-sublinks_lan" in networks and "hostnet" not in networks and "nonet" not in networks
    stack("down", "-v")
    assert stack.wait_gone() == []
    deadline = time.monotonic() + 10  # the kernel reaps a namespace a moment after its last user
    while parent_has_uppers(parent):
        assert time.monotonic() < deadline, "a macvlan interface is left on the parent"
        time.sleep(0.05)
