"""Direct tests of the smaller pieces: discovery, canonical, render, shape, consistency."""

from __future__ import annotations


import pytest

from stackup.stackfile import canonical, discovery, render
from stackup.stackfile.consistency import check_cycles
from stackup.stackfile.problems import Problems
from stackup.stackfile.shape import validate_file
from stackup.stackfile.yamlpos import load_documents


def test_discovery_walks_up_and_prefers_compose_yaml(tmp_path):
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    found = discovery.discover([], None, [], {}, deep)
    assert found.files == [str(tmp_path / "compose.yaml")]
    assert found.working_dir == tmp_path
    assert found.warnings and "multiple config files" in found.warnings[0]


def test_discovery_compose_file_list_and_separator(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text("services: {}\n")
    found = discovery.discover([], None, [], {"COMPOSE_FILE": "a.yaml;b.yaml", "COMPOSE_PATH_SEPARATOR": ";"},
                               tmp_path)
    assert found.files == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]


def test_project_names_are_normalized():
    assert discovery.normalize_project_name("My App_2!") == "myapp_2"
    assert discovery.normalize_project_name("--x") == "x"
    assert discovery.valid_project_name("ok-name_1") and not discovery.valid_project_name("Bad")


def test_canonical_long_forms():
    model = {"services": {"s": {"depends_on": ["a"], "env_file": "x.env", "networks": ["n"],
                                "secrets": ["pw"], "build": ".", "devices": ["/dev/a"], "gpus": "all"}}}
    service = canonical.canonical_model(model)["services"]["s"]
    assert service["depends_on"] == {"a": {"condition": "service_started", "required": True}}
    assert service["env_file"] == [{"path": "x.env", "required": True}]
    assert service["networks"] == {"n": None}
    assert service["secrets"] == [{"source": "pw"}]
    assert service["build"] == {"context": "."}
    assert service["devices"] == [{"source": "/dev/a", "target": "/dev/a", "permissions": "rwm"}]
    assert service["gpus"] == [{"count": "all"}]


def test_render_service_values():
    out = render.render_service({"command": "a 'b c'", "healthcheck": {"test": "true", "interval": "90s"},
                                 "mem_limit": "1g", "extra_hosts": {"h": "1.2.3.4"}, "labels": ["a=1", "b"],
                                 "environment": {"N": 1, "U": None}, "secrets": [{"source": "s", "mode": 0o440}],
                                 "x-ext": 1, "privileged": False}, ("services", "s"))
    assert out["command"] == ["a", "b c"]
    assert out["healthcheck"] == {"test": ["CMD-SHELL", "true"], "interval": "1m30s"}
    assert out["mem_limit"] == "1073741824"
    assert out["extra_hosts"] == ["h=1.2.3.4"]
    assert out["labels"] == {"a": "1", "b": ""}
    assert out["environment"] == {"N": "1", "U": None}
    assert out["secrets"] == [{"source": "s", "mode": "0440"}]
    assert "x-ext" not in out and "privileged" not in out and out["entrypoint"] is None


def test_render_errors_name_the_attribute():
    with pytest.raises(render.RenderError) as info:
        render.render_service({"stop_grace_period": "soon"}, ("services", "s"))
    assert info.value.path == ("services", "s", "stop_grace_period")


def _problems(text: str) -> list[str]:
    tree = load_documents(text, "c.yaml")[0].value
    problems = Problems()
    validate_file(tree, "c.yaml", problems)
    return [p.line() for p in problems.items]


def test_shape_messages():
    assert _problems("services:\n  a:\n    image: x\n") == []
    assert _problems("services:\n  a:\n    imag: x\n") == \
        ['c.yaml:3:5: services.a.imag: unknown attribute "imag" (did you mean "image"?)']
    assert _problems("services:\n  a:\n    image: [x]\n") == \
        ["c.yaml:3:12: services.a.image: a list is not valid here: expected a string"]
    assert _problems("x-anything: {whatever: 1}\nservices:\n  a:\n    x-own: 1\n    image: x\n") == []
    assert _problems("services:\n  a:\n    depends_on: {b: {condition: up}}\n") == [
        "c.yaml:3:33: services.a.depends_on.b.condition: \"up\" is not valid here: expected one of "
        "service_started, service_healthy, service_completed_successfully"]


def test_null_where_compose_allows_it_means_unset():
    tree = load_documents("services:\n  a:\n    image: x\n    deploy:\n    environment: {A: null}\n",
                          "c.yaml")[0].value
    validate_file(tree, "c.yaml", Problems())
    assert tree["services"]["a"] == {"image": "x", "environment": {"A": None}}


def test_null_where_compose_wants_a_value_is_refused():
    assert _problems("services:\n  a:\n    image: x\n    healthcheck:\n    x-note:\n") == [
        "c.yaml:4:17: services.a.healthcheck: null is not valid here: give a value, or leave the attribute "
        "out (`!reset` unsets it in an override file)"]
    assert _problems("services:\n  a:\n    image: x\n    cap_add: [null]\n    labels: {a: null}\n") == [
        "c.yaml:4:15: services.a.cap_add[0]: null is not valid here: give a value, or leave the attribute "
        "out (`!reset` unsets it in an override file)"]


def test_cycles_are_reported_as_a_path():
    problems = Problems()
    check_cycles({"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"c": {}}}, "c": {"depends_on": {"a": {}}}},
                 problems)
    assert [p.message for p in problems.items] == ["dependency cycle detected: a -> b -> c -> a"]
