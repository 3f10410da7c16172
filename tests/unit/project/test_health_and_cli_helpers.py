"""Healthcheck timing from Docker's form, and the CLI helpers' parsing and output."""

import io

import pytest

from stackup.cli.compose_common import LogPrinter, parse_scale, parse_timeout
from stackup.engine.runtime.containerstate import ContainerState
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
    printer.line("p-database-1", "ready\n", "T")
    assert out.getvalue() == "p-web-1       | hello\np-database-1  | ready\n"
    out = io.StringIO()
    LogPrinter(["a"], colour=True, stream=out, timestamps=True).line("a", "x\n", "T")
    assert out.getvalue() == "\x1b[36ma  | \x1b[0mT x\n"
    out = io.StringIO()
    LogPrinter(["a"], colour=False, prefix=False, stream=out).line("a", "x")
    assert out.getvalue() == "x\n"


class HookRuntime:
    """A runtime whose `check_health` records the next scripted probe result as the
    real one does (status, failing streak, log), on a fake clock."""

    def __init__(self, results, retries=3, start_period=0.0):
        self.results = list(results)
        self.retries = retries
        self.start_period = start_period
        self.now = 0.0
        self.probes = []
        self.state = {"id": "c", "name": "c", "status": "running", "started_at": "0000",
                      "health": {"status": "healthy", "log": [{"start": "-old-run", "exit_code": 0}]}}

    def get(self, ref):
        return ContainerState.from_dict(self.state)

    def check_health(self, ref):
        self.probes.append(self.now)
        code = self.results.pop(0)
        health = self.state["health"]
        if health["log"][-1]["start"] < self.state["started_at"]:
            health.update(status="starting", failing_streak=0)
        health["log"].append({"start": f"{self.now:09.3f}", "exit_code": code, "output": f"probe {code}"})
        if code == 0:
            health.update(status="healthy", failing_streak=0)
        elif self.now >= self.start_period:
            health["failing_streak"] = health.get("failing_streak", 0) + 1
            if health["failing_streak"] >= self.retries:
                health["status"] = "unhealthy"

    def sleep(self, seconds):
        self.now += max(seconds, 0.001)

    def clock(self):
        return self.now


def test_wait_healthy_probes_at_the_checks_pace_and_ignores_an_old_run():
    from stackup.project.health import wait_healthy

    rt = HookRuntime([1, 1, 0])
    check = Check(test=["CMD", "true"], interval=2.0, start_period=3.0, start_interval=0.5)
    wait_healthy(rt, "c", check, timeout=60, sleep=rt.sleep, clock=rt.clock)
    # the old run's "healthy" did not count; probes every start_interval in the start period
    assert [round(t, 1) for t in rt.probes] == [0.5, 1.0, 1.5]


def test_wait_healthy_raises_when_unhealthy_or_late():
    import pytest as _pytest

    from stackup.errors import StackupError
    from stackup.project.health import wait_healthy

    rt = HookRuntime([1, 1, 1], retries=2)
    check = Check(test=["CMD", "false"], interval=1.0)
    with _pytest.raises(StackupError, match="is unhealthy: probe 1"):
        wait_healthy(rt, "c", check, timeout=60, sleep=rt.sleep, clock=rt.clock)
    assert [round(t, 1) for t in rt.probes] == [1.0, 2.0]
    rt = HookRuntime([0])                   # unhealthy before the wait, recovered since
    rt.state["health"] = {"status": "unhealthy", "failing_streak": 3, "log": [{"start": "0001", "exit_code": 1}]}
    wait_healthy(rt, "c", check, timeout=60, sleep=rt.sleep, clock=rt.clock)
    assert rt.probes == [0.0]
    rt = HookRuntime([1] * 100, retries=1000)
    with _pytest.raises(StackupError, match="did not become healthy within 5s"):
        wait_healthy(rt, "c", check, timeout=5, sleep=rt.sleep, clock=rt.clock)
    rt = HookRuntime([])
    rt.state["status"] = "exited"
    rt.state["exit_code"] = 3
    with _pytest.raises(StackupError, match=r"exited \(code 3\)"):
        wait_healthy(rt, "c", check, timeout=5, sleep=rt.sleep, clock=rt.clock)


def test_ps_status_text_like_compose():
    from datetime import datetime, timedelta, timezone

    from stackup.cli.ps import describe
    from stackup.project import naming

    def iso(seconds_ago):
        return (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")

    base = {"id": "a" * 64, "name": "p-web-1", "created_at": iso(600), "network": {
        "ports": [{"host_ip": "127.0.0.1", "host_port": 8080, "container_port": 80, "protocol": "tcp"}]},
        "spec": {"labels": {naming.PROJECT: "p", naming.SERVICE: "web"}, "image": "busybox", "argv": ["sh"],
                 "healthcheck": {"Test": ["CMD", "true"]}}}
    running = dict(base, status="running", started_at=iso(125),
                   health={"status": "healthy", "log": [{"start": iso(1), "exit_code": 0}]})
    row = describe(ContainerState.from_dict(running))
    assert (row["State"], row["Health"], row["Status"]) == ("running", "healthy", "Up 2 minutes (healthy)")
    assert row["Ports"] == "127.0.0.1:8080->80/tcp"
    stale = dict(running, health={"status": "healthy", "log": [{"start": iso(500), "exit_code": 0}]})
    assert describe(ContainerState.from_dict(stale))["Status"] == "Up 2 minutes (starting)"        # a verdict of an earlier run
    exited = dict(base, status="exited", exit_code=3, finished_at=iso(310))
    assert describe(ContainerState.from_dict(exited))["Status"] == "Exited (3) 5 minutes ago"
    assert describe(ContainerState.from_dict(dict(base, status="created")))["Status"] == "Created"
