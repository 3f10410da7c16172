"""The compose commands as a user runs them, where no container is needed: `up
--dry-run` on an empty engine root, refusals of what the engine cannot honour,
bad flags, and the per-project lock."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackup.engine import state as st

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "web" / "compose.yaml"


def stackup(tmp_path, *args, **kw):
    env = dict(os.environ, STACKUP_ROOT=str(tmp_path / "root"))
    env.pop("COMPOSE_PROJECT_NAME", None)
    return subprocess.run([sys.executable, "-m", "stackup", *args], env=env, capture_output=True, text=True,
                          cwd=tmp_path, **kw)


def test_up_dry_run_on_an_empty_root_prints_the_whole_plan(tmp_path):
    proc = stackup(tmp_path, "-f", str(SAMPLE), "up", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "#1 create-network webdemo_default: not found",
        "#2 create-volume webdemo_site: not found",
        "#3 pull stackup.local/busybox:latest: image not present",
        "#4 build webdemo-web: image not present",
        "#5 create webdemo-backend-1: no existing container [after #1 #2 #3]",
        "#6 start webdemo-backend-1: created [after #5]",
        "#7 wait healthy backend (webdemo-backend-1): web depends on it [after #6]",
        "#8 create webdemo-web-1: no existing container [after #1 #4 #7]",
        "#9 start webdemo-web-1: created [after #8]",
    ]
    assert not (tmp_path / "root" / "containers").exists()   # nothing was made


def test_down_dry_run_without_a_file_needs_only_the_project_name(tmp_path):
    proc = stackup(tmp_path, "-p", "ghost", "down", "--dry-run")
    assert (proc.returncode, proc.stdout) == (0, "nothing to do\n"), proc.stderr
    proc = stackup(tmp_path, "down")
    assert proc.returncode == 2 and "no configuration file provided" in proc.stderr


def test_unsupported_attributes_are_refused_by_name(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: busybox\n    storage_opt: {size: 1G}\n    gpus: all\n"
        "    deploy:\n      placement:\n        constraints: ['node.role==manager']\n")
    proc = stackup(tmp_path, "up", "--dry-run")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert ("stackup: services.app.gpus (no GPU device requests in stackup's runtime) "
            "is not supported by stackup") in lines
    assert "stackup: services.app.deploy.placement is not supported by stackup" in lines
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["up", "--dry-run", "nosuch"], "no such service: nosuch"),
    (["up", "--dry-run", "--scale", "web"], "--scale 'web': expected SERVICE=NUMBER"),
    (["up", "--dry-run", "--scale", "nosuch=2"], "--scale: no such service: nosuch"),
    (["up", "--dry-run", "--pull", "sometimes"], "--pull 'sometimes'"),
    (["up", "--dry-run", "--force-recreate", "--no-recreate"], "cannot be used together"),
    (["up", "--dry-run", "-V", "--no-recreate"], "--renew-anon-volumes and --no-recreate"),
    (["up", "-d", "--abort-on-container-exit"], "cannot be used together"),
    (["up", "--exit-code-from", "nosuch"], "--exit-code-from: no such service: nosuch"),
    (["down", "--rmi", "some"], "--rmi 'some'"),
    (["ps", "--format", "{{.Name"], "template: unclosed action"),
    (["logs", "--tail", "x"], "--tail 'x'"),
])
def test_bad_flags_are_one_line_and_exit_2(tmp_path, args, message):
    proc = stackup(tmp_path, "-f", str(SAMPLE), *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_commands_on_one_project_wait_for_each_other(tmp_path):
    lock = tmp_path / "root" / "projects" / "webdemo.lock"
    env_root = tmp_path / "root"
    old = os.environ.get("STACKUP_ROOT")
    os.environ["STACKUP_ROOT"] = str(env_root)
    try:
        with st.locked(lock):
            proc = subprocess.Popen([sys.executable, "-m", "stackup", "-f", str(SAMPLE), "down", "--dry-run"],
                                    env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            other = stackup(tmp_path, "-p", "other", "down", "--dry-run")   # another project is not held up
            assert other.returncode == 0
            time.sleep(1.0)          # long enough for an unlocked `down --dry-run` to have finished
            assert proc.poll() is None
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out == "nothing to do\n"
    finally:
        if old is None:
            os.environ.pop("STACKUP_ROOT", None)
        else:
            os.environ["STACKUP_ROOT"] = old


def test_the_schema_marks_the_tables_unsupported_attributes():
    from stackup.stackfile.shape import schema
    from stackup.stackfile.support import UNSUPPORTED_SERVICE_KEYS

    properties = schema()["$defs"]["ServiceModel"]["properties"]
    assert {k for k, v in properties.items() if v.get("x-stackup-unsupported")} == UNSUPPORTED_SERVICE_KEYS
