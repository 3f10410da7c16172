"""A service whose profile is not active, named on the command line, is enabled for that
command as docker compose enables it: logs, ps, exec, stop, start, rm reach its container
(brought up earlier with --profile), not `no such service`."""

import pytest

pytestmark = pytest.mark.root


def test_named_profiled_service_is_enabled(stack):
    stack("--profile", "debug", "up", "-d")
    assert {row["Service"] for row in stack.ps()} == {"web", "tools"}
    assert stack("logs", "--no-log-prefix", "tools").stdout == "tooling\n"
    assert [row["Name"] for row in stack.ps("tools")] == ["e2e-profiled-tools-1"]
    assert stack("exec", "-T", "tools", "echo", "inside").stdout == "inside\n"
    stack("stop", "tools")
    assert [row["State"] for row in stack.ps("-a", "tools")] == ["exited"]
    stack("start", "tools")
    assert [row["State"] for row in stack.ps("tools")] == ["running"]
    stack("rm", "-s", "-f", "tools")
    assert stack.ps("-a", "tools") == []
    assert [row["Service"] for row in stack.ps()] == ["web"]   # the others untouched
    missing = stack("logs", "nope", check=False)
    assert missing.returncode == 2 and "no such service: nope" in missing.stderr
