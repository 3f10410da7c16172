"""Which container paths get anonymous volumes, and which a recreate hands on."""

from stackup.project import anonymous


def test_targets_are_sourceless_volumes_and_uncovered_image_volumes():
    config = {"volumes": [{"type": "volume", "target": "/data/"},
                          {"type": "volume", "source": "named", "target": "/named"},
                          {"type": "bind", "source": "/host", "target": "/bound"}],
              "tmpfs": ["/run:size=1m"]}
    image = ["/bound", "/named", "/run", "var/lib/db", "/img"]
    assert anonymous.targets(config, image) == ["/data", "/img", "/var/lib/db"]
    assert anonymous.uncovered_image_volumes(config, image) == ["/img", "/var/lib/db"]
    assert anonymous.targets({"tmpfs": "/img"}, image) == ["/bound", "/named", "/run", "/var/lib/db"]


def test_label_round_trip_and_inheritance_by_path():
    labels = {anonymous.MOUNTS: anonymous.encode({"/var/lib/db": "b", "/data": "a"})}
    assert anonymous.mounts_of(labels) == {"/data": "a", "/var/lib/db": "b"}
    assert anonymous.inherited(labels, ["/data", "/new"]) == {"/data": "a"}


def test_unreadable_labels_hand_nothing_on():
    for value in ("", "not json", "[1]", '{"/x": 3}'):
        assert anonymous.mounts_of({anonymous.MOUNTS: value}) == {}
    assert anonymous.mounts_of({}) == {}
