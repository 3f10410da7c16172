from stackup.engine.network import records


def net(nid, endpoints, internal=False):
    return {"id": nid, "name": nid, "internal": internal, "endpoints": endpoints}


def ep(ip, *names, container_name=None, dns=None):
    return {"ip": ip, "names": list(names), "container_name": container_name, "dns": dns or []}


FRONT = net("front", {
    "c1": ep("10.0.1.2", "web-1", "web", container_name="web-1"),
    "c2": ep("10.0.1.3", "web-2", "web", container_name="web-2"),
    "c3": ep("10.0.1.4", "proxy", container_name="proxy"),
})
BACK = net("back", {
    "c3": ep("10.0.2.4", "proxy", container_name="proxy"),
    "c4": ep("10.0.2.5", "db", "Database", container_name="db", dns=["9.9.9.9"]),
})


def test_all_replicas_answer_for_a_service_name():
    assert records.lookup([FRONT, BACK], "front", "10.0.1.4", "web.") == ["10.0.1.2", "10.0.1.3"]


def test_names_are_per_network():
    # c1 is only on front: it cannot see db on back
    assert records.lookup([FRONT, BACK], "front", "10.0.1.2", "db") == []
    # c3 is on both: asking through front it sees back's names too
    assert records.lookup([FRONT, BACK], "front", "10.0.1.4", "db") == ["10.0.2.5"]


def test_own_network_address_comes_first():
    assert records.lookup([FRONT, BACK], "back", "10.0.2.5", "proxy") == ["10.0.2.4"]
    assert records.lookup([FRONT, BACK], "front", "10.0.1.2", "proxy") == ["10.0.1.4"]


def test_names_are_case_insensitive():
    assert records.lookup([FRONT, BACK], "back", "10.0.2.4", "DATABASE.") == ["10.0.2.5"]


def test_unknown_asker_sees_only_the_network_asked_through():
    assert records.lookup([FRONT, BACK], "front", "10.9.9.9", "web-1") == ["10.0.1.2"]
    assert records.lookup([FRONT, BACK], "front", "10.9.9.9", "db") == []


def test_reverse_and_ptr():
    assert records.ptr_to_ip("5.2.0.10.in-addr.arpa.") == "10.0.2.5"
    assert records.ptr_to_ip("example.com.") is None
    assert records.reverse([FRONT, BACK], "back", "10.0.2.4", "10.0.2.5") == "db"


def test_upstreams_of_the_asking_container():
    assert records.upstreams_for([FRONT, BACK], "back", "10.0.2.5") == ["9.9.9.9"]
    assert records.upstreams_for([FRONT, BACK], "back", "10.0.2.4") is None


def test_a_link_alias_resolves_for_the_linking_container_only():
    linked = net("front", {
        "c1": ep("10.0.1.2", "web-1", "web", container_name="web-1") | {"links": {"Backend": "proxy"}},
        "c3": ep("10.0.1.4", "proxy", container_name="proxy"),
        "c5": ep("10.0.1.5", "other", container_name="other"),
    })
    assert records.lookup([linked], "front", "10.0.1.2", "backend.") == ["10.0.1.4"]
    assert records.lookup([linked], "front", "10.0.1.5", "backend") == []  # not its link
    assert records.lookup([linked], "front", "10.0.1.2", "web-1") == ["10.0.1.2"]  # other names as before
