"""Lifecycle hooks as compose normalizes them -> what is exec'd; compose's error for a
failing one; `attach: false` and `annotations` mapped (all pure)."""

import pytest

from stackup.engine.runtime.spec import ContainerSpec
from stackup.project import containerspec, hooks
from stackup.project.events import LogLine, LogSources
from stackup.project.up import _hide_lines
from stackup.stackfile import support


def test_a_hook_with_every_option():
    hook = hooks.parse({"command": ["sh", "-c", "echo $X"], "user": "nobody", "privileged": "true",
                        "working_dir": "/tmp", "environment": {"X": "1", "UNSET": None}})
    assert hook == hooks.Hook(["sh", "-c", "echo $X"], "nobody", True, "/tmp", ("X=1",))


@pytest.mark.parametrize("value, expected", [(True, True), ("true", True), ("True", True), (False, False),
                                             ("false", False), (None, False)])
def test_privileged_as_compose_writes_it(value, expected):
    assert hooks.parse({"command": ["true"], "privileged": value}).privileged is expected


def test_the_hooks_of_a_kind_in_order_and_none_by_default():
    config = {"post_start": [{"command": ["a"]}, {"command": ["b"]}], "pre_stop": [{"command": ["c"]}]}
    assert [h.command for h in hooks.of(config, "post_start")] == [["a"], ["b"]]
    assert [h.command for h in hooks.of(config, "pre_stop")] == [["c"]]
    assert hooks.of({}, "pre_stop") == []
    with pytest.raises(ValueError):
        hooks.of(config, "post_stop")


def test_a_failed_hook_is_named_as_compose_names_it_with_its_last_output():
    assert str(hooks.failed("web", 3)) == "web hook exited with status 3"
    out = "one\n\ntwo\nthree\nfour\n"
    assert str(hooks.failed("web", 1, out)) == "web hook exited with status 1: two | three | four"


def test_the_attributes_are_honoured_now():
    for key in ("annotations", "attach", "post_start", "pre_stop"):
        assert key in support.HONOURED_SERVICE_KEYS and key not in support.UNSUPPORTED_SERVICE_KEYS
    found = support.unsupported_service("web", {"pull_refresh_after": "1h"})
    assert found == [f"services.web.pull_refresh_after ({support.REFUSAL_REASONS['pull_refresh_after']})"]


def test_annotations_go_on_the_spec():
    args = containerspec.spec_arguments({"annotations": {"a": "b", "n": 1}}, where="services.web",
                                        container_name="p-web-1", service="web", project_networks={},
                                        network_name=lambda key, cfg: key)
    assert args["annotations"] == {"a": "b", "n": "1"}
    spec = ContainerSpec(annotations=args["annotations"])
    assert ContainerSpec.from_dict(spec.to_dict()).annotations == {"a": "b", "n": "1"}


def test_the_output_of_quiet_containers_is_hidden():
    seen: list[object] = []
    report = _hide_lines(seen.append, {"p-db-1"})
    for event in (LogLine("p-db-1", "hidden"), LogLine("p-web-1", "shown"), LogSources(("p-web-1",))):
        report(event)
    assert seen == [LogLine("p-web-1", "shown"), LogSources(("p-web-1",))]
    assert _hide_lines(seen.append, set()) == seen.append
