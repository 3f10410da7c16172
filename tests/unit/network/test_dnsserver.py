"""The DNS server's resolver over network files in a temporary root (no root needed)."""

import json
import socket
import threading

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from stackup.engine.network.dnsresolver import Records, Resolver


def write(root, net):
    d = root / "networks"
    d.mkdir(exist_ok=True)
    (d / f"{net['id']}.json").write_text(json.dumps(net))


def network(nid="n1", internal=False, endpoints=None):
    return {"id": nid, "name": nid, "internal": internal, "endpoints": endpoints or {},
            "ipam": {"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}}


def ask(resolver, name, qtype="A", source="10.0.0.2"):
    answer = resolver.answer(DNSRecord.question(name, qtype).pack(), source)
    return DNSRecord.parse(answer)


def fake_upstream():
    """A UDP DNS server on 127.0.0.1 answering every A query with 192.0.2.99."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve():
        while True:
            data, client = sock.recvfrom(4096)
            q = DNSRecord.parse(data)
            reply = q.reply()
            reply.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("192.0.2.99"), ttl=1))
            sock.sendto(reply.pack(), client)

    threading.Thread(target=serve, daemon=True).start()
    return f"127.0.0.1#{sock.getsockname()[1]}"


def test_local_names_resolve_and_a_later_join_is_seen(tmp_path):
    write(tmp_path, network(endpoints={"c1": {"ip": "10.0.0.2", "names": ["web"]}}))
    resolver = Resolver(Records(tmp_path, "n1"), [])
    assert [str(r.rdata) for r in ask(resolver, "web").rr] == ["10.0.0.2"]
    assert ask(resolver, "late").header.rcode != RCODE.NOERROR or not ask(resolver, "late").rr
    write(tmp_path, network(endpoints={"c1": {"ip": "10.0.0.2", "names": ["web"]},
                                       "c2": {"ip": "10.0.0.3", "names": ["late"]}}))
    assert [str(r.rdata) for r in ask(resolver, "late").rr] == ["10.0.0.3"]


def test_known_name_has_no_aaaa_and_is_not_forwarded(tmp_path):
    write(tmp_path, network(endpoints={"c1": {"ip": "10.0.0.2", "names": ["web"]}}))
    reply = ask(Resolver(Records(tmp_path, "n1"), ["127.0.0.1#9"]), "web", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR and not reply.rr


def test_other_names_are_forwarded_to_the_upstream(tmp_path):
    write(tmp_path, network())
    reply = ask(Resolver(Records(tmp_path, "n1"), [fake_upstream()]), "example.org")
    assert [str(r.rdata) for r in reply.rr] == ["192.0.2.99"]


def test_containers_own_dns_servers_are_the_upstream(tmp_path):
    up = fake_upstream()
    write(tmp_path, network(endpoints={"c1": {"ip": "10.0.0.2", "names": ["web"], "dns": [up]}}))
    reply = ask(Resolver(Records(tmp_path, "n1"), ["127.0.0.1#9"]), "example.org")
    assert [str(r.rdata) for r in reply.rr] == ["192.0.2.99"]


def test_internal_networks_do_not_forward(tmp_path):
    write(tmp_path, network(internal=True))
    reply = ask(Resolver(Records(tmp_path, "n1"), [fake_upstream()]), "example.org")
    assert reply.header.rcode == RCODE.NXDOMAIN


def test_reverse_lookup(tmp_path):
    write(tmp_path, network(endpoints={"c1": {"ip": "10.0.0.2", "names": ["web-1", "web"],
                                              "container_name": "web-1"}}))
    reply = ask(Resolver(Records(tmp_path, "n1"), []), "2.0.0.10.in-addr.arpa", "PTR")
    assert str(reply.rr[0].rdata) == "web-1."


def test_askers_from_outside_the_subnet_are_refused(tmp_path):
    write(tmp_path, network(endpoints={"c1": {"ip": "10.0.0.2", "names": ["web"]}}))
    reply = ask(Resolver(Records(tmp_path, "n1"), []), "web", source="10.0.9.2")
    assert reply.header.rcode == RCODE.REFUSED and not reply.rr


def test_names_with_a_search_domain_appended_are_answered_here(tmp_path):
    up = fake_upstream()
    write(tmp_path, network(endpoints={"c1": {"ip": "10.0.0.2", "names": ["web"], "search": ["svc.test"]}}))
    resolver = Resolver(Records(tmp_path, "n1"), [up], search=["corp.example"])
    assert [str(r.rdata) for r in ask(resolver, "web.corp.example").rr] == ["10.0.0.2"]
    assert [str(r.rdata) for r in ask(resolver, "web.svc.test").rr] == ["10.0.0.2"]
    # any other domain is not ours: forwarded
    assert [str(r.rdata) for r in ask(resolver, "web.example.org").rr] == ["192.0.2.99"]
