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


def test_config_reports_every_problem_with_exit_code_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    imagee: x\n    ports: ['80800:80']\n")
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "stackup: compose.yaml:3:5: services.web.imagee: unknown attribute \"imagee\" (did you mean \"image\"?)" in err
    assert any("services.web.ports[0]: \"80800\" is not a valid port (1-65535)" in line for line in err)
    assert not any("Traceback" in line for line in err)
