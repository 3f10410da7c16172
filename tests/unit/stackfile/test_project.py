"""load_project: discovery, names, env files, profiles, extends/include, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackup.errors import UserError
from stackup.stackfile import LoadOptions, load_project, unsupported_attributes


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(folder: Path, environ=None, **options):
    return load_project(LoadOptions(**options), environ or {"HOME": "/home/u"}, cwd=folder)


def test_discovery_override_and_project_name_from_folder(tmp_path):
    folder = tmp_path / "My App"
    write(folder, "compose.yaml", "services:\n  web:\n    image: a\n")
    write(folder, "compose.override.yaml", "services:\n  web:\n    image: b\n")
    project = load(folder)
    assert project.name == "myapp"
    assert project.to_dict()["services"]["web"]["image"] == "b"
    assert project.config_files == [folder / "compose.yaml", folder / "compose.override.yaml"]
    assert project.working_dir == folder


def test_project_name_precedence(tmp_path):
    write(tmp_path, "compose.yaml", "name: From-File\nservices:\n  web:\n    image: a\n")
    assert load(tmp_path).name == "from-file"
    assert load(tmp_path, {"COMPOSE_PROJECT_NAME": "env"}).name == "env"
    assert load(tmp_path, {"COMPOSE_PROJECT_NAME": "env"}, project_name="flag").name == "flag"
    with pytest.raises(UserError, match="invalid project name"):
        load(tmp_path, project_name="Bad Name")


def test_dotenv_sets_compose_variables_and_interpolation(tmp_path):
    write(tmp_path, ".env", "COMPOSE_FILE=other.yaml\nTAG=1.2\nCOMPOSE_PROFILES=debug\n")
    write(tmp_path, "other.yaml", "services:\n  web:\n    image: app:${TAG}\n"
          "  dbg:\n    image: dbg\n    profiles: [debug]\n  off:\n    image: x\n    profiles: [never]\n")
    project = load(tmp_path)
    assert sorted(project.to_dict()["services"]) == ["dbg", "web"]
    assert project.to_dict()["services"]["web"]["image"] == "app:1.2"
    assert project.all_profiles() == ["debug", "never"]
    assert sorted(load(tmp_path, profiles=["*"]).to_dict()["services"]) == ["dbg", "off", "web"]


def test_extends_and_include_resolve_paths_against_their_own_file(tmp_path):
    write(tmp_path, "compose.yaml", "include: [lib/inc.yaml]\nservices:\n  web:\n"
          "    extends: {file: base/base.yaml, service: base}\n    image: web\n")
    write(tmp_path, "base/base.yaml", "services:\n  base:\n    image: b\n    volumes: ['./data:/data']\n")
    write(tmp_path, "lib/inc.yaml", "services:\n  side:\n    image: s\n    env_file: side.env\n")
    write(tmp_path, "lib/side.env", "FROM_FILE=yes\n")
    data = load(tmp_path, files=["compose.yaml"]).to_dict()
    assert data["services"]["web"]["volumes"][0]["source"] == str(tmp_path / "base" / "data")
    assert data["services"]["side"]["environment"] == {"FROM_FILE": "yes"}


def test_stdin_file(tmp_path):
    project = load(tmp_path, files=["-"], stdin="services:\n  web:\n    image: a\n")
    assert project.name == tmp_path.name.lower().replace(".", "") or project.name


def test_every_problem_is_reported_with_its_place(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: a\n    ports: ['80800:80']\n"
          "    restartt: always\n    depends_on: [db]\n")
    with pytest.raises(UserError) as info:
        load(tmp_path)
    lines = info.value.lines()
    assert 'compose.yaml:4:13: services.web.ports[0]: "80800" is not a valid port (1-65535)' in lines
    assert 'compose.yaml:5:5: services.web.restartt: unknown attribute "restartt" (did you mean "restart"?)' \
        in lines


@pytest.mark.parametrize("text,message", [
    ("services:\n  a:\n    image: x\n    depends_on: [b]\n", 'depends on undefined service "b"'),
    ("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
     "dependency cycle detected: a -> b -> a"),
    ("services:\n  a:\n    image: ${NEED:?set NEED}\n", "required variable NEED is missing a value: set NEED"),
    ("services:\n  a:\n    image: x\n    networks: [nope]\n", "undefined network nope"),
    ("services: [1]\n", "expected a mapping"),
    ("services:\n  a: {image: [x\n", "compose.yaml:3:1: did not find expected ',' or ']'"),
    ("", "empty compose file"),
])
def test_clear_messages(tmp_path, text, message):
    write(tmp_path, "compose.yaml", text)
    with pytest.raises(UserError) as info:
        load(tmp_path)
    assert any(message in line for line in info.value.lines()), info.value.lines()


def test_missing_file_and_no_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load(tmp_path, files=["nope.yaml"])
    with pytest.raises(UserError, match="no configuration file provided"):
        load(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)


def test_unsupported_attributes_are_named(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: a\n    gpus: all\n    storage_opt: {size: 1G}\n")
    project = load(tmp_path)
    assert unsupported_attributes(project.to_dict()) == [
        "services.web.gpus (no GPU device requests in stackup's runtime)",
        "services.web.storage_opt (overlay storage has no per-container size quota here)"]
    assert project.to_dict()["services"]["web"]["gpus"] == [{"count": -1}]
    from stackup.errors import UnsupportedError
    from stackup.stackfile import check_supported
    with pytest.raises(UnsupportedError) as info:
        check_supported(project.to_dict())
    assert info.value.lines() == ["services.web.gpus (no GPU device requests in stackup's runtime) "
                                  "is not supported by stackup",
                                  "services.web.storage_opt (overlay storage has no per-container size "
                                  "quota here) is not supported by stackup"]


def test_selected_services_bring_their_dependencies_and_profiles(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: a\n    depends_on: [db]\n"
          "  db:\n    image: b\n  other:\n    image: c\n  dbg:\n    image: d\n    profiles: [debug]\n")
    assert sorted(load(tmp_path, services=["web"]).to_dict()["services"]) == ["db", "web"]
    assert sorted(load(tmp_path, services=["dbg"]).to_dict()["services"]) == ["dbg"]
    assert sorted(load(tmp_path, enable_services=["dbg"]).to_dict()["services"]) == ["db", "dbg", "other", "web"]
    with pytest.raises(UserError, match="no such service: nope"):
        load(tmp_path, services=["nope"])


def test_no_interpolate_keeps_variables_as_written(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: app:${TAG}\n    ports: ['${P}:80']\n")
    data = load(tmp_path, interpolate=False).to_dict()
    assert data["services"]["web"]["image"] == "app:${TAG}"
    assert data["services"]["web"]["ports"] == ["${P}:80"]


def test_model_access_for_other_layers(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: a\n    ports: ['8080:80']\n"
          "    depends_on: {db: {condition: service_healthy}}\n  db:\n    image: b\n")
    project = load(tmp_path)
    web = project.services["web"]
    assert web.ports[0].target == 80 and web.ports[0].published == "8080"
    assert web.depends_on["db"].condition == "service_healthy"
    assert project.to_dict()["networks"]["default"]["name"] == f"{project.name}_default"


def test_unset_variables_and_version_give_warnings(tmp_path):
    write(tmp_path, "compose.yaml", "version: '3'\nservices:\n  web:\n    image: app:${TAG}\n")
    project = load(tmp_path)
    assert project.to_dict()["services"]["web"]["image"] == "app:"
    assert any('"TAG" variable is not set' in w for w in project.warnings)
    assert any("`version` is obsolete" in w for w in project.warnings)


def test_invalid_names_are_rejected(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  'bad name':\n    image: a\n")
    with pytest.raises(UserError, match="is not a valid name"):
        load(tmp_path)


def test_cli_global_options_are_accepted(tmp_path):
    from stackup.cli.options import GlobalOptions

    write(tmp_path, "stack.yaml", "services:\n  web:\n    image: a\n  dbg:\n    image: b\n    profiles: [debug]\n")
    options = GlobalOptions(files=[str(tmp_path / "stack.yaml")], project_name="given",
                            project_directory=tmp_path, profiles=["debug"])
    project = load_project(options, {})
    assert project.name == "given" and sorted(project.services) == ["dbg", "web"]
