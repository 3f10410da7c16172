"""Networks and volumes with the options compose users set, through the CLI: dual stack
with static addresses (AAAA, IPv6 traffic, the port on [::1]), a bind volume whose files
land in the chosen folder, a tmpfs volume with its size and mode; the local driver's
mounts made when the first container starts and gone when the last stops; nothing left
after `down -v` (the chosen folder's files stay, as with Docker)."""

import socket

import pytest

pytestmark = pytest.mark.root


def mounted(path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def sh(stack, service: str, command: str) -> str:
    return stack("exec", "-T", service, "sh", "-c", command).stdout


def test_dual_stack_and_volume_driver_options(stack, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("from the chosen folder\n")
    stack.env["SITE_DIR"] = str(site)
    stack("up", "-d")
    data = stack.root / "volumes" / "e2e-netopts_site" / "_data"
    assert mounted(data)
    # addresses of both families, as asked
    addrs = sh(stack, "server", "ip -o addr show eth0")
    assert "10.232.7.10/24" in addrs and "fd5c:2d6a:9ffe:7::10/64" in addrs
    # AAAA and A from the network's DNS server; a connection over IPv6 by address
    looked = sh(stack, "client", "nslookup -type=AAAA server")
    assert "fd5c:2d6a:9ffe:7::10" in looked, looked
    page = sh(stack, "client", "wget -qO- http://[fd5c:2d6a:9ffe:7::10]:8080/")
    assert page == "from the chosen folder\n"
    # the published port answers on [::1]
    with socket.create_connection(("::1", int(stack.env["PORT"])), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert b"from the chosen folder" in s.makefile("rb").read()
    # a file written in a container lands in the chosen folder
    sh(stack, "client", "echo written > /site/new.txt")
    assert (site / "new.txt").read_text() == "written\n"
    # the tmpfs volume: size and mode as given
    df = sh(stack, "server", "stat -c %a /scratch && grep ' /scratch ' /proc/mounts")
    assert df.startswith("750\n") and "tmpfs" in df and "size=4096k" in df, df
    # the mount stays while one user runs, goes with the last
    stack("stop", "client")
    assert mounted(data)
    stack("stop", "server")
    assert not mounted(data)
    assert not (data / "index.html").exists() and (site / "index.html").exists()
    stack("down", "-v")
    assert stack.wait_gone() == []
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "new.txt"]  # the folder is the user's
