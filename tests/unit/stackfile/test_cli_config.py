"""`stackup config` and `stackup schema` as a user runs them."""

from __future__ import annotations

import json

from stackup.cli.main import main


def test_config_json_and_service_list(tmp_path, monkeypatch, capsys):
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n    ports: ['80:80']\n")
    monkeypatch.chdir(tmp_path)
    assert main(["config", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["services"]["web"]["ports"][0] == {"mode": "ingress", "target": 80, "published": "80",
                                                   "protocol": "tcp"}
    assert main(["config", "--services"]) == 0
    assert capsys.readouterr().out == "web\n"


def test_config_output_goes_to_the_file_given(tmp_path, monkeypatch, capsys):
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n")
    monkeypatch.chdir(tmp_path)
    assert main(["config", "--format", "json", "-o", "out.json"]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads((tmp_path / "out.json").read_text())["services"]["web"]["image"] == "nginx"
    assert main(["config", "--services", "--output", "names.txt"]) == 0
    assert (tmp_path / "names.txt").read_text() == "web\n"
    assert main(["config", "-o", str(tmp_path / "missing" / "x.yaml")]) == 2
    assert "x.yaml: No such file or directory" in capsys.readouterr().err


def test_config_reports_every_problem_with_exit_code_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    imagee: x\n    ports: ['80800:80']\n")
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "stackup: compose.yaml:3:5: services.web.imagee: unknown attribute \"imagee\" (did you mean \"image\"?)" in err
    assert any("services.web.ports[0]: \"80800\" is not a valid port (1-65535)" in line for line in err)
    assert not any("Traceback" in line for line in err)


STACK = """name: demo
services:
  web:
    image: nginx
    networks: [front]
    volumes: [data:/data]
    command: echo $$HOME
  tool:
    build: ./tool
    profiles: [dev]
networks:
  front: {}
volumes:
  data: {}
"""


def test_config_lists_and_quiet(tmp_path, monkeypatch, capsys):
    (tmp_path / "compose.yaml").write_text(STACK)
    monkeypatch.chdir(tmp_path)
    for flag, expected in (("--volumes", "data\n"), ("--networks", "front\n"), ("--profiles", "dev\n"),
                           ("--images", "nginx\n")):
        assert main(["config", flag]) == 0
        assert capsys.readouterr().out == expected, flag
    assert main(["--profile", "dev", "config", "--images"]) == 0
    assert capsys.readouterr().out == "demo-tool\nnginx\n"
    assert main(["config", "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_config_yaml_reads_back_and_keeps_dollars_escaped(tmp_path, monkeypatch, capsys):
    import yaml

    (tmp_path / "compose.yaml").write_text(STACK)
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["services"]["web"]["command"] == ["echo", "$$HOME"]
    assert data["volumes"]["data"]["name"] == "demo_data"
    assert "command" not in data["services"].get("tool", {})


def test_schema_command_writes_the_committed_schema(tmp_path, capsys):
    from pathlib import Path

    out = tmp_path / "s.json"
    assert main(["schema", "-o", str(out)]) == 0
    committed = Path(__file__).resolve().parents[3] / "schemas" / "stackup.schema.json"
    assert out.read_text() == committed.read_text()
