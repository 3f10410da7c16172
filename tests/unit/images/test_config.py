"""Image configs round-trip through the OCI form; --change applies Dockerfile instructions."""

import pytest

from stackup.engine.images.config import ImageConfig, apply_changes
from stackup.errors import UserError


def test_oci_round_trip():
    doc = {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Entrypoint": ["/init"], "WorkingDir": "/w",
           "User": "app", "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
           "Labels": {"a": "b"}, "StopSignal": "SIGQUIT",
           "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000}}
    config = ImageConfig.from_oci(doc)
    assert config.exposed_ports == ["80/tcp"] and config.volumes == ["/data"]
    assert config.to_oci() == doc


def test_empty_config_has_no_command():
    config = ImageConfig.from_oci(None)
    assert config.cmd is None and config.entrypoint is None and config.env == []


def test_changes_like_docker_import():
    config = apply_changes(ImageConfig(env=["A=0"]), [
        'CMD ["/bin/sh", "-c", "echo hi"]', "ENTRYPOINT /init --x", 'ENV A=1 B="two words"',
        "ENV C legacy value", "EXPOSE 80 53/udp 80/tcp", 'LABEL a=b "c d"=e', "WORKDIR /srv",
        "WORKDIR app", "USER 1000:1000", "STOPSIGNAL SIGINT", "VOLUME /data /logs",
        "HEALTHCHECK --interval=1m30s --retries=3 CMD wget -q localhost"])
    assert config.cmd == ["/bin/sh", "-c", "echo hi"]
    assert config.entrypoint == ["/bin/sh", "-c", "/init --x"]
    assert config.env == ["A=1", "B=two words", "C=legacy value"]
    assert config.exposed_ports == ["53/udp", "80/tcp"]
    assert config.labels == {"a": "b", "c d": "e"}
    assert config.working_dir == "/srv/app" and config.user == "1000:1000"
    assert config.stop_signal == "SIGINT" and config.volumes == ["/data", "/logs"]
    assert config.healthcheck == {"Test": ["CMD-SHELL", "wget -q localhost"],
                                  "Interval": 90_000_000_000, "Retries": 3}


def test_healthcheck_none_and_exec_form():
    assert apply_changes(ImageConfig(), ["HEALTHCHECK NONE"]).healthcheck == {"Test": ["NONE"]}
    check = apply_changes(ImageConfig(), ['HEALTHCHECK --timeout=500ms CMD ["true"]']).healthcheck
    assert check == {"Test": ["CMD", "true"], "Timeout": 500_000_000}


@pytest.mark.parametrize("change", [
    "RUN echo", "", "EXPOSE", "EXPOSE 99999", "EXPOSE 80/xyz", "ENV", "LABEL novalue",
    "USER", "HEALTHCHECK --bogus=1 CMD true", "HEALTHCHECK --interval=soon CMD true",
    "HEALTHCHECK echo", "CMD", "LABEL 'unterminated=1",
])
def test_bad_changes_are_user_errors(change):
    with pytest.raises(UserError):
        apply_changes(ImageConfig(), [change])


def test_healthcheck_durations_are_go_durations():
    check = apply_changes(ImageConfig(), ["HEALTHCHECK --interval=1h2m3s --timeout=1.5s CMD true"]).healthcheck
    assert check["Interval"] == 3_723_000_000_000 and check["Timeout"] == 1_500_000_000
    for bad, message in (("--interval=soon", "invalid duration 'soon'"), ("--timeout=-1s", "must not be negative")):
        with pytest.raises(UserError, match=message):
            apply_changes(ImageConfig(), [f"HEALTHCHECK {bad} CMD true"])
