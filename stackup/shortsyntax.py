"""The short syntaxes of ports and volumes, parsed into their long form, for every layer.

`"127.0.0.1:8080-8081:80-81/udp"` (ports) and `"./data:/data:ro"` (volumes), parsed
as docker compose parses them: the stack file's `ports:` and `volumes:`, `run -v`,
and the engine's own `-p` and `-v`. What the engine can run of the long form is the
engine's to check; this module only reads the syntax.
"""

from __future__ import annotations

import posixpath

from stackup.errors import UserError

PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
SELINUX = ("z", "Z")
# accepted for Docker Desktop's file sharing and ignored, as compose and Docker do
CONSISTENCY = ("cached", "delegated", "consistent")
VOLUME_OPTIONS = ("ro", "rw", "nocopy", *PROPAGATIONS, *SELINUX, *CONSISTENCY)


class SyntaxProblem(UserError):
    """Text that is not the short syntax: the stack file adds where it stands."""


def _is_file_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~":
        return True
    if source.startswith("\\\\"):
        return True
    return len(source) >= 2 and source[0].isalpha() and source[1] == ":"


def parse_volume(spec: str, *, strict: bool = False) -> dict:
    """A short volume (`[source:]target[:options]`) as compose's ParseVolume reads it.

    compose ignores an option it does not know; `strict` refuses it, as `docker run -v` does."""
    volume: dict = {}
    if not spec:
        raise SyntaxProblem("invalid empty volume spec")
    if len(spec) <= 2:
        volume["target"] = spec
        _populate_type(volume)
        return volume
    fields: dict = {"source": "", "target": ""}
    buffer: list[str] = []
    depth = 0
    text = spec + "\0"
    for i, char in enumerate(text):
        if char == "$" and i + 1 < len(spec) and spec[i + 1] == "{":
            depth += 1
            buffer.append(char)
            continue
        if char == "}" and depth > 0:
            depth -= 1
            buffer.append(char)
            continue
        if char == ":" and len(buffer) == 1 and buffer[0].isalpha():
            buffer.append(char)  # a Windows drive letter
        elif char in (":", "\0") and depth == 0:
            _field(char, "".join(buffer), fields, volume, spec, strict)
            buffer = []
        else:
            buffer.append(char)
    if fields["source"]:
        volume["source"] = fields["source"]
    volume["target"] = fields["target"]
    _populate_type(volume)
    return volume


def _field(char: str, text: str, fields: dict, volume: dict, spec: str, strict: bool) -> None:
    if not text:
        raise SyntaxProblem(f"invalid spec: {spec}: empty section between colons")
    if not fields["source"] and char == "\0":
        fields["target"] = text
        return
    if not fields["source"]:
        fields["source"] = text
        return
    if not fields["target"]:
        fields["target"] = text
        return
    if char == ":":
        raise SyntaxProblem(f"invalid spec: {spec}: too many colons")
    for option in text.split(","):
        if option == "ro":
            volume["read_only"] = True
        elif option == "rw":
            volume.pop("read_only", None)
        elif option == "nocopy":
            volume["volume"] = {"nocopy": True}
        elif option in PROPAGATIONS:
            volume.setdefault("bind", {})["propagation"] = option
        elif option in SELINUX:
            volume.setdefault("bind", {})["selinux"] = option
        elif strict and option not in CONSISTENCY:
            raise SyntaxProblem(f"invalid spec: {spec}: unknown option {option!r} "
                                f"(one of {', '.join(VOLUME_OPTIONS)})")


def _populate_type(volume: dict) -> None:
    if _is_file_path(volume.get("source", "")):
        volume["type"] = "bind"
        volume.setdefault("bind", {})["create_host_path"] = True
    else:
        volume["type"] = "volume"
        volume.setdefault("volume", {})
    target = volume.get("target")
    if target:
        volume["target"] = posixpath.normpath(target) if target != "//" else "/"


def _port_range(text: str, what: str, spec: str) -> tuple[int, int]:
    if not text:
        raise SyntaxProblem(f"empty port range in {spec!r}")
    start, sep, end = text.partition("-")
    try:
        low = int(start, 10)
        high = int(end, 10) if sep else low
    except ValueError:
        raise SyntaxProblem(f"invalid {what} port {text!r} in \"{spec}\" (expected a number or a range)") from None
    for value in (low, high):
        if not 0 <= value <= 65535:
            raise SyntaxProblem(f"\"{text}\" is not a valid port (1-65535)")
    if high < low:
        raise SyntaxProblem(f"invalid {what} port range {text!r}: the end is before the start")
    return low, high


def parse_ports(spec: str) -> list[dict]:
    """A short port (`[ip:][host[-range]:]container[-range][/proto]`) as long-form entries."""
    proto = "tcp"
    body = spec
    if "/" in spec:
        body, proto = spec.rsplit("/", 1)
        proto = proto.lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise SyntaxProblem(f"invalid protocol {proto!r} in \"{spec}\" (tcp, udp or sctp)")
    ip, host, container = _split_port(body)
    if ip:
        import ipaddress

        bare = ip[1:-1] if ip.startswith("[") and ip.endswith("]") else ip
        try:
            ipaddress.ip_address(bare)
        except ValueError:
            raise SyntaxProblem(f"invalid IP address {ip!r} in \"{spec}\"") from None
        ip = bare
    start, end = _port_range(container, "container", spec)
    host_start = host_end = 0
    if host:
        host_start, host_end = _port_range(host, "host", spec)
        if (end - start) != (host_end - host_start) and end != start:
            raise SyntaxProblem(f"invalid ranges specified for container and host ports: {container} and {host}")
    entries: dict[str, dict] = {}
    for i in range(end - start + 1):
        published = ""
        if host:
            published = str(host_start + i)
            if start == end and host_start != host_end:
                published = f"{published}-{host_end}"
        entry = {"mode": "ingress", "target": start + i, "protocol": proto}
        if ip:
            entry["host_ip"] = ip
        if published:
            entry["published"] = published
        entries[f"{start + i}/{proto}"] = entry
    # compose sorts the ports of one entry as strings ("1000/tcp" < "999/tcp")
    return [entries[key] for key in sorted(entries)]


def _split_port(body: str) -> tuple[str, str, str]:
    if body.startswith("[") and "]" in body:  # [ipv6]:host:container
        close = body.index("]")
        ip = body[: close + 1]
        rest = body[close + 1:].lstrip(":")
        host, _, container = rest.rpartition(":")
        return ip, host, container
    parts = body.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    container = parts[-1]
    host = parts[-2]
    return ":".join(parts[:-2]), host, container
