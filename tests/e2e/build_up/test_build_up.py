"""`up` builds a service's missing image (named <project>-<service>), keeps it while it
is present, and `up --build` builds it again: the container is recreated on the new
image. `up --no-build` never builds."""

import json
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.root


def test_up_builds_the_missing_image_and_up_build_rebuilds_it(stack, tmp_path):
    stack.workdir = tmp_path / "project"    # the test edits its context: a copy of the folder
    shutil.copytree(Path(__file__).parent, stack.workdir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    refused = stack("up", "-d", "--no-build", check=False)
    assert refused.returncode == 2
    assert "image e2e-build-up-web is not present and --no-build forbids building it" in refused.stderr

    first = stack("up", "-d")
    assert re.search(r"^#\d+ \[web 1/3\] FROM ", first.stderr, re.M)      # BuildKit's plain lines
    assert re.search(r"^#\d+ DONE \d+\.\ds$", first.stderr, re.M)
    assert stack("exec", "-T", "web", "cat", "/message.txt", "/greeting.txt").stdout == \
        "first\nhello from the build\n"
    (image,) = json.loads(stack("image", "inspect", "e2e-build-up-web").stdout)
    assert image["Config"]["Labels"]["e2e.built-by"] == "compose"

    (stack.workdir / "web" / "message.txt").write_text("second\n")
    stack("up", "-d")                         # present: not built again
    assert stack("exec", "-T", "web", "cat", "/message.txt").stdout == "first\n"
    stack("up", "-d", "--build")
    assert stack("exec", "-T", "web", "cat", "/message.txt").stdout == "second\n"
    (rebuilt,) = json.loads(stack("image", "inspect", "e2e-build-up-web").stdout)
    assert rebuilt["Id"] != image["Id"]

    running = stack("ps", "-q").stdout
    again = stack("up", "-d", "--build")      # nothing changed: every step cached, same image,
    assert "CACHED" in again.stderr           # so the container is not recreated
    assert stack("ps", "-q").stdout == running

    stack("down", "-v")
    assert stack.wait_gone() == []

