"""`additional_contexts: {base: service:base}`: web builds FROM the image base builds,
which is built first; `stackup build web` builds base too, as compose does. web names
its image (`image:`) and no registry has it: `up` builds it after the failed pull."""

import json

import pytest

pytestmark = pytest.mark.root


def test_a_service_builds_from_another_services_image(stack):
    plan = stack("build", "--dry-run", "web").stdout
    assert plan == ("#1 build e2e-build-context-base: web builds from its image\n"
                    "#2 build e2e.local/web:1: stackup build [after #1]\n")
    stack("build", "web")
    base, web = json.loads(stack("image", "inspect", "e2e-build-context-base", "e2e.local/web:1").stdout)
    assert web["RootFS"]["Layers"][:len(base["RootFS"]["Layers"])] == base["RootFS"]["Layers"]
    assert stack("run", "--rm", "web").stdout == "made by base\nmade by web\n"

    stack("image", "rm", "e2e.local/web:1", "e2e-build-context-base")
    up = stack("up", "-d")      # both missing: base built, then web (its pull fails first)
    assert "Traceback" not in up.stderr
    assert {row["Service"] for row in stack.ps("-a")} == {"base", "web"}
    assert stack("wait", "web").stdout == "0\n"
    assert stack("logs", "--no-log-prefix", "web").stdout == "made by base\nmade by web\n"
    stack("down", "-v")
    assert stack.wait_gone() == []
