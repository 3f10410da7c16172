"""`run` one-offs: output, exit codes, --rm, -e, and dependencies started first."""

import pytest

pytestmark = pytest.mark.root


def test_run_exit_codes_and_output(stack):
    ok = stack("run", "--rm", "tool")
    assert ok.stdout == "default command\n"
    assert {row["Service"] for row in stack.ps()} == {"helper"}    # the dependency is up
    failed = stack("run", "--rm", "-e", "WHO=me", "tool", "sh", "-c", "echo $WHO; exit 7", check=False)
    assert failed.returncode == 7
    assert failed.stdout == "me\n"
    assert not [row for row in stack.ps("-a") if row["Service"] == "tool"]   # --rm removed them
    kept = stack("run", "--no-deps", "tool", "sh", "-c", "exit 3", check=False)
    assert kept.returncode == 3
    oneoffs = [row for row in stack.ps("-a") if row["Service"] == "tool"]
    assert len(oneoffs) == 1 and oneoffs[0]["Name"].startswith("e2e-run-tool-run-")
    assert oneoffs[0]["ExitCode"] == 3
    missing = stack("run", "nosuch", check=False)
    assert missing.returncode == 2 and "no such service: nosuch" in missing.stderr
    stack("down", "-v")
    assert stack.wait_gone() == []
