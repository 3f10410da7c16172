"""Healthcheck timing from Docker's form, and the CLI helpers' parsing and output."""

import io

import pytest

from stackup.cli.compose_common import LogPrinter, parse_scale, parse_timeout
from stackup.errors import UserError
from stackup.project.health import Check


def test_check_from_docker_form():
    assert Check.from_docker(None) is None
    assert Check.from_docker({"Test": ["NONE"]}) is None
    check = Check.from_docker({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 2_000_000_000,
                               "Retries": 5, "StartPeriod": 1_000_000_000})
    assert check.argv() == ["/bin/sh", "-c", "curl -f localhost"]
    assert (check.interval, check.timeout, check.retries, check.start_period, check.start_interval) == \
        (2.0, 30.0, 5, 1.0, 5.0)
    assert Check.from_docker({"Test": ["CMD", "true", "x"]}).argv() == ["true", "x"]


def test_parse_scale_and_timeout():
    assert parse_scale(["web=3", "db=0"]) == {"web": 3, "db": 0}
    for bad in ("web", "web=x", "=2", "web=-1"):
        with pytest.raises(UserError):
            parse_scale([bad])
    assert parse_timeout(None) is None and parse_timeout(5) == 5.0
    with pytest.raises(UserError):
        parse_timeout(-1)


def test_log_printer_prefixes_and_colours():
    out = io.StringIO()
    printer = LogPrinter(["p-web-1", "p-database-1"], colour=False, stream=out)
    printer.line("p-web-1", "hello\n")
    printer.entry("p-database-1", {"log": "ready\n", "time": "T"})
    assert out.getvalue() == "p-web-1       | hello\np-database-1  | ready\n"
    out = io.StringIO()
    LogPrinter(["a"], colour=True, stream=out, timestamps=True).entry("a", {"log": "x\n", "time": "T"})
    assert out.getvalue() == "\x1b[36ma  | \x1b[0mT x\n"
    out = io.StringIO()
    LogPrinter(["a"], colour=False, prefix=False, stream=out).line("a", "x")
    assert out.getvalue() == "x\n"


def test_monitor_counts_failures_like_docker(monkeypatch, tmp_path):
    """Failures in the start period do not count (until a first success); `retries`
    failures in a row make it unhealthy; a success makes it healthy again."""
    from stackup.project import health

    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path))
    results = iter([1, 1, 1, 0, 1, 1, 0, 1, 1, 1])
    monkeypatch.setattr(health, "probe", lambda runtime, cid, check: (next(results), "out"))
    clock = [100.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])
    check = Check(test=["CMD", "true"], interval=1.0, retries=2, start_period=5.0, start_interval=0.5)
    monitor = health.Monitor(None, "c" * 64, check)
    assert monitor.next_delay() == 0.5                       # start_interval in the start period
    seen = []
    for _ in range(3):                                       # failures in the start period
        seen.append(monitor.step())
    assert seen == ["starting"] * 3 and monitor.failures == 0
    assert monitor.step() == "healthy"
    clock[0] += 10                                           # start period over
    assert monitor.next_delay() == 1.0
    assert [monitor.step(), monitor.step()] == ["healthy", "unhealthy"]
    assert monitor.step() == "healthy"
    assert [monitor.step(), monitor.step()] == ["healthy", "unhealthy"]
    import json

    record = json.loads(health.health_path("c" * 64).read_text())
    assert (record["status"], record["failing_streak"], record["last"]["exit_code"]) == ("unhealthy", 2, 1)
