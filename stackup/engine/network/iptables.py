"""Forwarding past other engines' iptables rules: stackup's chain in the `filter` table.

dockerd loads `br_netfilter` (so frames crossing any bridge, ours too, go through
the IP forward hook) and sets iptables' `FORWARD` policy to `DROP`. An `accept` in
stackup's own nftables table ends only that base chain; iptables' `FORWARD` chain
still drops the packet. So, as netavark, the CNI firewall plugin and Incus do,
stackup keeps a chain of its own in iptables' `filter` table, `STACKUP-FORWARD`,
jumped to from the top of `FORWARD`, holding accept rules per network (each tagged
with the comment `stackup:<bridge> <network name>`). The rules are added whatever
the policy is today: dockerd may start later, and it keeps the jumps of others.

Isolation stays with the nftables table (`nft.py`): its drops come first and are
final, so accepting here never opens what it closes.

Everything goes through the host's own `iptables-save`/`iptables-restore`, legacy
or nft as the host's `iptables` command is; where there is no iptables, there is
nothing to get past and nothing is done. One read and one transaction per change,
under the host-wide lock.

The same chain is kept in ip6tables' `filter` table for a network with IPv6: dockerd
(27+, where `ip6tables` is on by default) sets ip6tables' `FORWARD` policy to `DROP` too.
Each function takes the IP version (4: iptables, 6: ip6tables).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
import shutil
import subprocess
from dataclasses import dataclass

from stackup.engine.network import store
from stackup.errors import StackupError

CHAIN = "STACKUP-FORWARD"
TABLE = "filter"
COMMENT_PREFIX = "stackup:"
COMMENT_RE = re.compile(r'--comment "?' + COMMENT_PREFIX + r'([^ "]+)')


def comment(bridge: str, name: str) -> str:
    return f"{COMMENT_PREFIX}{bridge} {name}"


def network_rules(bridge: str, name: str, internal: bool) -> list[str]:
    """The rule specifications (after `-A CHAIN`) that let one network's traffic through
    (pure; tested without root). Within the bridge always; out and back unless internal."""
    tag = f'-m comment --comment "{comment(bridge, name)}" -j ACCEPT'
    rules = [f"-i {bridge} -o {bridge} {tag}"]
    if not internal:
        rules += [f"-i {bridge} ! -o {bridge} {tag}",
                  f"-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED {tag}"]
    return rules


@dataclass(frozen=True)
class Table:
    """What matters to stackup of the host's iptables `filter` table (from `-S`)."""

    chain_exists: bool
    jump_exists: bool
    rules: tuple[str, ...]  # the lines `-A STACKUP-FORWARD ...`, as iptables prints them
    forward_policy: str

    @classmethod
    def parse(cls, listing: str) -> Table:
        lines = listing.splitlines()
        policy = next((ln.split()[2] for ln in lines if ln.startswith("-P FORWARD ")), "ACCEPT")
        return cls(chain_exists=f"-N {CHAIN}" in lines,
                   jump_exists=f"-A FORWARD -j {CHAIN}" in lines,
                   rules=tuple(ln for ln in lines if ln.startswith(f"-A {CHAIN} ")),
                   forward_policy=policy)

    def rules_of(self, bridge: str) -> list[str]:
        return [ln for ln in self.rules if bridge_of(ln) == bridge]


def bridge_of(line: str) -> str:
    """The bridge a rule of stackup's chain belongs to, from its comment ('' if none).
    iptables prints the comment in double quotes when it has a space, as stackup's has."""
    found = COMMENT_RE.search(line)
    return found.group(1) if found else ""


def add_script(table: Table, bridge: str, name: str, internal: bool,
               live_bridges: set[str] | None = None) -> str:
    """The iptables-restore input that gives `bridge` exactly its rules (pure). Rules of
    bridges not in `live_bridges` (when given) go too: a crash or a reboot left them."""
    lines = [] if table.chain_exists else [f":{CHAIN} - [0:0]"]
    if not table.jump_exists:
        lines.append(f"-I FORWARD 1 -j {CHAIN}")
    lines += ["-D" + line[2:] for line in table.rules
              if bridge_of(line) == bridge or (live_bridges is not None and bridge_of(line) not in live_bridges)]
    lines += [f"-A {CHAIN} {rule}" for rule in network_rules(bridge, name, internal)]
    return _transaction(lines)


def remove_script(table: Table, bridge: str) -> str:
    """The iptables-restore input that removes `bridge`'s rules, and the chain and its
    jump with the last network's (pure); empty when there is nothing to do."""
    mine = table.rules_of(bridge)
    lines = ["-D" + line[2:] for line in mine]
    if table.chain_exists and len(mine) == len(table.rules):
        if table.jump_exists:
            lines.append(f"-D FORWARD -j {CHAIN}")
        lines.append(f"-X {CHAIN}")
    return _transaction(lines) if lines else ""


def _transaction(lines: list[str]) -> str:
    return f"*{TABLE}\n" + "".join(line + "\n" for line in lines) + "COMMIT\n"


def tools(version: int = 4) -> tuple[str, str] | None:
    """The host's `iptables` and `iptables-restore` (ip6tables' for version 6), or None
    where they are absent."""
    base = "iptables" if version == 4 else "ip6tables"
    found = [shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
             for name in (base, f"{base}-restore")]
    return (found[0], found[1]) if found[0] and found[1] else None


def read(version: int = 4) -> Table | None:
    """The host's filter table as stackup sees it, or None where iptables is absent: not
    installed, or installed over a kernel without its tables (`iptables -S` fails), where
    no FORWARD chain can drop anything either."""
    found = tools(version)
    if found is None:
        return None
    proc = subprocess.run([found[0], "-w", "-t", TABLE, "-S"], capture_output=True, text=True)
    return Table.parse(proc.stdout) if proc.returncode == 0 else None


def _restore(script: str, version: int = 4) -> None:
    found = tools(version)
    if not script or found is None:
        return
    proc = subprocess.run([found[1], "-w", "--noflush"], input=script, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackupError(f"{Path(found[1]).name} failed: {_last_line(proc.stderr) or proc.returncode}")


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def add_network(bridge: str, name: str, internal: bool, version: int = 4) -> None:
    """Let the network's traffic past iptables' FORWARD chain (its rules replaced if any)."""
    with store.host_lock():
        table = read(version)
        if table is not None:
            _restore(add_script(table, bridge, name, internal, set(os.listdir("/sys/class/net"))), version)


def remove_network(bridge: str, version: int = 4) -> None:
    with store.host_lock():
        table = read(version)
        if table is not None:
            _restore(remove_script(table, bridge), version)


def rules_of(bridge: str, version: int = 4) -> list[str]:
    """The rules of this bridge in stackup's chain (for checks, repair and tests)."""
    table = read(version)
    return table.rules_of(bridge) if table else []


def intact(table: Table | None, bridge: str, internal: bool) -> bool:
    """True when the bridge has all its rules and the chain is jumped to (or there is no
    iptables at all): what the repair checks."""
    if table is None:
        return True
    return table.jump_exists and len(table.rules_of(bridge)) == len(network_rules(bridge, "", internal))
