"""`stackup image build` as `docker build`: -t, -f, --build-arg, --label, -q printing the
image id; a failing RUN exits 1 naming the step, its exit code and its last output; a
Dockerfile error exits 2 naming the line."""

import json

import pytest

pytestmark = pytest.mark.root


def test_image_build_tags_the_image_and_prints_its_id(stack):
    built = stack("image", "build", "-q", "-t", "e2e/hello:1", "-t", "e2e/hello:latest",
                  "--build-arg", "WHO=stackup", "--label", "e2e.kind=hello", "hello")
    image_id = built.stdout.strip()
    (doc,) = json.loads(stack("image", "inspect", "e2e/hello:1").stdout)
    assert doc["Id"] == image_id
    assert sorted(doc["RepoTags"]) == ["e2e/hello:1", "e2e/hello:latest"]
    assert doc["Config"]["Labels"]["e2e.kind"] == "hello"
    assert doc["Config"]["Cmd"] == ["cat", "/hello.txt", "/extra.txt"]
    ran = stack("container", "run", "--rm", "e2e/hello:1")
    assert ran.stdout == "hello stackup\nextra\n"
    again = stack("image", "build", "--progress", "plain", "-t", "e2e/hello:1", "--build-arg", "WHO=stackup",
                  "--label", "e2e.kind=hello", "hello")
    assert "CACHED" in again.stderr and again.stdout == ""
    stack("image", "rm", "e2e/hello:1", "e2e/hello:latest")


def test_image_build_failures(stack):
    failed = stack("image", "build", "--progress", "plain", "-t", "e2e/fail", "-f", "hello/Dockerfile.fail",
                   "hello", check=False)
    assert failed.returncode == 1
    assert "did not complete successfully: exit code: 3" in failed.stderr
    assert "about-to-fail" in failed.stderr
    assert "Traceback" not in failed.stderr
    bad = stack("image", "build", "-t", "e2e/bad", "-f", "hello/Dockerfile.bad", "hello", check=False)
    assert bad.returncode == 2
    assert "Dockerfile.bad:2" in bad.stderr and "Traceback" not in bad.stderr
    assert stack.wait_gone() == []
