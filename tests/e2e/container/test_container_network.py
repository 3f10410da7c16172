"""`stackup container run --network`: joining a user network, and a missing one refused."""

import os

import pytest

from stackup.testing.containers import cli_runner

pytestmark = pytest.mark.root


@pytest.fixture
def cli(root):
    run = cli_runner(root, default_check=0)
    yield run
    # containers first: a network still in use is not removed
    containers = run("ps", "-aq").stdout.split()
    if containers:
        run("rm", "-f", *containers)
    for name in run("ls", "-q", group="network").stdout.split():
        run("rm", name, group="network", check=None)


def test_containers_on_a_network_reach_each_other_by_name(cli, image):
    net = f"rt{os.getpid() % 100000}"
    cli("create", net, group="network")
    web = cli("run", "-d", "--name", f"web-{net}", "--network", net, image,
              "httpd", "-f", "-p", "80", "-h", "/etc").stdout.strip()
    p = cli("run", "--rm", "--network", net, image, "wget", "-qO-", f"http://web-{net}/hostname")
    assert p.stdout.strip() == web[:12]


def test_a_missing_network_is_refused_and_nothing_is_left(cli, image):
    p = cli("run", "--rm", "--network", "no-such-net", image, "true", check=2)
    assert p.stderr.strip() == "stackup: network no-such-net not found"
    assert cli("ps", "-a", "-q").stdout == ""
