"""Rules the schema cannot say, checked on the merged model before paths are resolved
(as compose's `validation` package): attributes that exclude each other, and values
that must parse.

Each check yields (attribute path, message); the loader places them in the files.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

Issue = tuple[tuple, str]


def check(model: dict) -> Iterator[Issue]:
    for name, volume in _items(model.get("volumes")):
        yield from _external_alone(volume, ("volumes", name))
    for name, config in _items(model.get("configs")):
        yield from _file_object(config, ("configs", name), ("file", "environment", "content"))
    for name, secret in _items(model.get("secrets")):
        yield from _file_object(secret, ("secrets", name), ("file", "environment"))
    for name, service in _items(model.get("services")):
        yield from _service(service, ("services", name))


def _items(section: Any) -> Iterator[tuple[str, Any]]:
    return iter(section.items()) if isinstance(section, dict) else iter(())


def _service(service: Any, at: tuple) -> Iterator[Issue]:
    if not isinstance(service, dict):
        return
    for index, port in enumerate(service.get("ports") or []):
        if isinstance(port, dict) and "host_ip" in port and not is_ip(port["host_ip"]):
            yield at + ("ports", str(index), "host_ip"), f"invalid IP address {port['host_ip']!r}"
    develop = service.get("develop")
    for index, watch in enumerate((develop.get("watch") or []) if isinstance(develop, dict) else []):
        if isinstance(watch, dict) and watch.get("path") == "":
            yield at + ("develop", "watch", str(index), "path"), "value can't be blank"
    deploy = service.get("deploy")
    resources = deploy.get("resources") if isinstance(deploy, dict) else None
    reservations = resources.get("reservations") if isinstance(resources, dict) else None
    devices = reservations.get("devices") if isinstance(reservations, dict) else None
    requests = [(at + ("deploy", "resources", "reservations", "devices"), devices), (at + ("gpus",), service.get("gpus"))]
    for where, entries in requests:
        for index, request in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(request, dict) and "count" in request and "device_ids" in request:
                yield where + (str(index), "device_ids"), "\"count\" and \"device_ids\" are mutually exclusive"


def _external_alone(resource: Any, at: tuple) -> Iterator[Issue]:
    """An external resource exists already: only its name (and `x-*` notes) may be given."""
    if not isinstance(resource, dict) or resource.get("external") is not True:
        return
    for key in resource:
        if key not in ("name", "external") and not str(key).startswith("x-"):
            yield at + (key,), f"conflicting parameters \"external\" and \"{key}\" (an external volume " \
                               "is created elsewhere: give only its name)"


def _file_object(resource: Any, at: tuple, sources: tuple[str, ...]) -> Iterator[Issue]:
    """A secret or config takes its content from exactly one source (or is external, or has a driver)."""
    if not isinstance(resource, dict):
        return
    given = [key for key in sources if key in resource]
    if len(given) > 1:
        yield at + (given[1],), f"{' and '.join(given)} are mutually exclusive (one of {'|'.join(sources)})"
    elif not given and "driver" not in resource and "external" not in resource:
        yield at, f"one of {'|'.join(sources)} must be set"


def is_ip(value: Any) -> bool:
    """An IPv4 or IPv6 address as Go's net.ParseIP takes it: no brackets, no zone."""
    text = str(value)
    if "%" in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
