"""Kernel object names for networks and endpoints.

Interface names must fit 15 characters and be recognisably stackup's, so that
anything stackup leaves behind can be found again: bridges are `stk-` plus 11
characters of the network id, host-side veth ends `stkv` plus 11 hex characters
derived from the container and network ids.
"""

from __future__ import annotations

import hashlib
import os
import re

BRIDGE_PREFIX = "stk-"
VETH_PREFIX = "stkv"
IFNAMSIZ = 15

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def new_id() -> str:
    return os.urandom(32).hex()  # what secrets.token_hex does, without its imports (random...)


def bridge_name(network_id: str) -> str:
    return (BRIDGE_PREFIX + network_id)[:IFNAMSIZ]


def veth_name(container_id: str, network_id: str) -> str:
    digest = hashlib.sha256(f"{container_id}/{network_id}".encode()).hexdigest()
    return (VETH_PREFIX + digest)[:IFNAMSIZ]


def container_ifname(index: int) -> str:
    return f"eth{index}"
