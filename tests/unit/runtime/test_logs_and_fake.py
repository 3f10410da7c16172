"""Reading logs (tail, since) and the recording syscalls fake."""

import json
from datetime import datetime, timezone

import pytest

from stackup.engine.runtime import logs
from stackup.engine.runtime.syscalls import RecordingSyscalls
from stackup.errors import UserError


def write_log(path, entries):
    path.write_text("".join(json.dumps({"log": t, "stream": s, "time": ts}) + "\n"
                            for t, s, ts in entries))


def test_tail_since_and_rotation_order(tmp_path):
    path = tmp_path / "container.log"
    write_log(tmp_path / "container.log.1", [("a\n", "stdout", "2026-01-01T00:00:00.000000000Z")])
    write_log(path, [("b\n", "stderr", "2026-01-01T00:00:01.000000000Z"),
                     ("c\n", "stdout", "2026-01-01T00:00:02.000000000Z")])
    assert [e["log"] for e in logs.select(path)] == ["a\n", "b\n", "c\n"]
    assert [e["log"] for e in logs.select(path, tail=2)] == ["b\n", "c\n"]
    assert logs.select(path, tail=0) == []
    since = logs.parse_since("2026-01-01T00:00:01Z")
    assert [e["log"] for e in logs.select(path, since=since)] == ["b\n", "c\n"]
    assert logs.format_entry({"log": "x\n", "time": "T"}, True) == "T x\n"


def test_parse_since_forms():
    now = datetime(2026, 1, 1, 1, 0, tzinfo=timezone.utc)
    assert logs.parse_since("10m", now) == "2026-01-01T00:50:00.000000000Z"
    assert logs.parse_since("1m30.5s", now) == "2026-01-01T00:58:29.500000000Z"
    assert logs.parse_since("0", now) == "1970-01-01T00:00:00.000000000Z"
    with pytest.raises(UserError, match="--since"):
        logs.parse_since("yesterday-ish")


def test_follow_reads_appended_lines_until_stopped(tmp_path):
    path = tmp_path / "container.log"
    write_log(path, [("old\n", "stdout", "t")])
    seen = []
    polls = iter([True, False])

    def running():
        if not seen:  # append after follow has started reading from the end
            with open(path, "a") as f:
                f.write(json.dumps({"log": "new\n", "stream": "stdout", "time": "t"}) + "\n")
        return next(polls, False)

    logs.follow(path, running, seen.append, poll=0)
    assert [e["log"] for e in seen] == ["new\n"]


def test_recording_fake_records_in_order():
    fake = RecordingSyscalls()
    fake.unshare(1)
    fake.mount("a", "/b", "tmpfs", 0, None)
    assert fake.calls == [("unshare", 1), ("mount", "a", "/b", "tmpfs", 0, None)]
    assert fake.names() == ["unshare", "mount"] and fake.of("mount") == [fake.calls[1]]
