"""Kubernetes names and the recommended labels.

Object names are DNS-1123 labels (Services: DNS-1035, starting with a letter), at
most 63 characters. Labels follow the recommended `app.kubernetes.io/*` keys: `name`
is the service (its selector), `part-of` the project, `managed-by` stackup.
"""

from __future__ import annotations

import re

from stackup.errors import UserError

NAME = "app.kubernetes.io/name"
PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
COMPONENT = "app.kubernetes.io/component"
MANAGER = "stackup"

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def object_name(name: str, what: str) -> str:
    """`name` as a DNS-1035 label (lowercase, `_` and `.` as `-`); refused when even
    that is not one (a Service's name is the DNS name other services use)."""
    candidate = name.lower().replace("_", "-").replace(".", "-")
    if len(candidate) > 63 or not _DNS_LABEL.match(candidate):
        raise UserError(f"{what} {name!r}: cannot be a Kubernetes name (lowercase letters, digits and '-', "
                        "starting with a letter, at most 63 characters)")
    return candidate


def common_labels(project: str, component: str | None = None) -> dict[str, str]:
    labels = {PART_OF: project, MANAGED_BY: MANAGER}
    if component is not None:
        labels = {NAME: component, **labels}
    return labels


def selector(component: str) -> dict[str, str]:
    return {NAME: component}


def valid_label(key: str, value: str) -> bool:
    """Whether `key: value` is a valid Kubernetes label (else it goes to annotations)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    if len(name) > 63 or not _LABEL_KEY_NAME.match(name):
        return False
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def port_name(protocol: str, port: int) -> str:
    """An IANA service name for a port (at most 15 characters, with a letter)."""
    return f"{protocol.lower()}-{port}"
