"""Compose's `build:` mapped onto the builder's options (stackup.project.build): every
key, the image's name and tags, what is refused or warned about by name, and what is
settled only when the build runs (value-less args, service: contexts, env secrets)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stackup.engine.images import platform
from stackup.errors import NotFoundError, UnsupportedError, UserError
from stackup.project.build import (BuildFailed, BuildFlags, StepTail, resolved, secret_files, service_build)
from stackup.engine.build.model import StepEvent, StepOutput
from stackup.stackfile import support

NATIVE = str(platform.host())


def spec_of(build, *, image=None, services=None, secrets=None, flags=None, project_dir="/proj"):
    config = {"build": build} | ({"image": image} if image else {})
    return service_build("shop", "web", config, services=services, secrets=secrets, project_dir=project_dir,
                         flags=flags or BuildFlags())


def test_the_short_form_is_the_context_relative_to_the_project():
    spec = spec_of("./app")
    assert spec.options.context == Path("/proj/app")
    assert spec.options.dockerfile == Path("/proj/app/Dockerfile")
    assert spec.options.name == "web"


def test_the_image_is_named_by_image_else_project_dash_service_and_tags_are_added():
    assert spec_of(".").image == "shop-web"
    assert spec_of(".").options.tags == ["shop-web"]
    spec = spec_of({"context": ".", "tags": ["reg.example/web:2", "shop-web"]}, image="reg.example/web:1")
    assert spec.image == "reg.example/web:1"
    assert spec.options.tags == ["reg.example/web:1", "reg.example/web:2", "shop-web"]


def test_every_honoured_key_reaches_the_options():
    spec = spec_of({
        "context": "/src/web", "dockerfile": "docker/Dockerfile.dev", "args": {"A": "1", "B": None},
        "target": "runtime", "labels": ["x=y", "empty"], "no_cache": True, "pull": "true", "network": "host",
        "extra_hosts": {"db": "10.0.0.2", "many": ["10.0.0.3", "10.0.0.4"]}, "shm_size": "64m",
        "platforms": [NATIVE],
    })
    o = spec.options
    assert o.context == Path("/src/web")
    assert o.dockerfile == Path("/src/web/docker/Dockerfile.dev")
    assert o.build_args == {"A": "1", "B": None}
    assert o.target == "runtime"
    assert o.labels == {"x": "y", "empty": ""}
    assert (o.no_cache, o.pull, o.network) == (True, True, "host")
    assert o.extra_hosts == ["db=10.0.0.2", "many=10.0.0.3", "many=10.0.0.4"]
    assert o.shm_size == 64 * 1024 * 1024
    assert o.platform == NATIVE
    assert spec.warnings == ()


def test_a_dockerfile_given_absolute_or_inline():
    assert spec_of({"context": "/src", "dockerfile": "/elsewhere/Dockerfile"}).options.dockerfile == \
        Path("/elsewhere/Dockerfile")
    inline = spec_of({"context": "/src", "dockerfile_inline": "FROM scratch\n"}).options
    assert (inline.dockerfile, inline.dockerfile_inline) == (None, "FROM scratch\n")


def test_args_in_list_form_and_the_build_commands_flags():
    spec = spec_of({"context": ".", "args": ["A=1", "B", "C="], "no_cache": False},
                   flags=BuildFlags(no_cache=True, pull=True, args={"A": "2", "D": None}))
    assert spec.options.build_args == {"A": "2", "B": None, "C": "", "D": None}
    assert (spec.options.no_cache, spec.options.pull) == (True, True)


def test_value_less_args_take_the_environment_and_are_dropped_without_it():
    spec = spec_of({"context": ".", "args": {"A": "1", "B": None, "C": None}})
    assert resolved(spec, {"B": "from-env"}, {}).build_args == {"A": "1", "B": "from-env"}


def test_additional_contexts_folders_images_and_services():
    services = {"web": {}, "base": {"build": "."}, "named": {"image": "reg.example/named:3", "build": "."}}
    spec = spec_of({"context": ".", "additional_contexts": {
        "assets": "../assets", "abs": "/data", "alpine": "docker-image://alpine:3",
        "base": "service:base", "named": "service:named"}}, services=services)
    assert spec.options.additional_contexts == {"assets": "/assets", "abs": "/data",
                                                "alpine": "docker-image://alpine:3"}
    assert spec.service_contexts == {"base": ("base", "shop-base"), "named": ("named", "reg.example/named:3")}
    assert spec.depends_on == ["base", "named"]
    final = resolved(spec, {}, {"shop-base": "sha256:1", "reg.example/named:3": "sha256:2"})
    assert final.additional_contexts["base"] == "docker-image://sha256:1"
    assert final.additional_contexts["named"] == "docker-image://sha256:2"
    assert spec.options.additional_contexts["assets"] == "/assets"   # the spec itself is unchanged


def test_a_service_context_needs_the_service_and_its_image():
    with pytest.raises(NotFoundError, match=r"services.web.build.additional_contexts.base: no such service: nope"):
        spec_of({"context": ".", "additional_contexts": {"base": "service:nope"}}, services={"web": {}})
    spec = spec_of({"context": ".", "additional_contexts": ["base=service:base"]},
                   services={"web": {}, "base": {"build": "."}})
    with pytest.raises(NotFoundError, match="the image of service base .shop-base. is not present"):
        resolved(spec, {}, {})


@pytest.mark.parametrize("build, message", [
    ({"context": "https://github.com/docker/rootfs.git#main"}, r"services.web.build.context .*git or archive URL"),
    ({"context": "git@github.com:x/y.git"}, r"services.web.build.context"),
    ({"context": ".", "additional_contexts": {"x": "https://example.com/a.tar.gz"}},
     r"services.web.build.additional_contexts.x .https://example.com/a.tar.gz."),
    ({"context": ".", "ssh": ["default"]}, r"services.web.build.ssh"),
    ({"context": ".", "privileged": True}, r"services.web.build.privileged"),
    ({"context": ".", "isolation": "hyperv"}, r"services.web.build.isolation .hyperv."),
    ({"context": ".", "entitlements": ["network.host"]}, r"services.web.build.entitlements"),
    ({"context": ".", "ulimits": {"nofile": 1024}}, r"services.web.build.ulimits"),
    ({"context": ".", "no_cache_filter": ["x"]}, r"services.web.build.no_cache_filter"),
    ({"context": ".", "provenance": True}, r"services.web.build.provenance"),
    ({"context": ".", "sbom": "true"}, r"services.web.build.sbom"),
    ({"context": ".", "network": "backend"}, r"services.web.build.network .backend."),
    ({"context": ".", "platforms": [NATIVE, "linux/s390x" if "s390x" not in NATIVE else "linux/amd64"]},
     r"services.web.build.platforms .linux/"),
])
def test_what_cannot_be_honoured_is_refused_by_name(build, message):
    with pytest.raises(UnsupportedError, match=message):
        spec_of(build)


def test_the_support_table_refuses_the_same_before_up_starts():
    build = {"context": "https://example.com/x.git", "ssh": ["default"], "privileged": True, "isolation": "hyperv",
             "network": "backend", "additional_contexts": {"x": "https://example.com/a.tar.gz", "b": "service:b"},
             "cache_from": ["x"]}
    found = support.unsupported_service("web", {"build": build})
    assert found == ["services.web.build.privileged", "services.web.build.ssh",
                     "services.web.build.context (https://example.com/x.git: a git or archive URL)",
                     "services.web.build.isolation (hyperv)", "services.web.build.network (backend)",
                     "services.web.build.additional_contexts.x (https://example.com/a.tar.gz)"]
    assert support.unsupported_service("web", {"build": {"context": "/src", "isolation": "default",
                                                         "privileged": False, "provenance": False}}) == []
    assert "build" in support.HONOURED_SERVICE_KEYS and "build" not in support.UNSUPPORTED_SERVICE_KEYS


def test_cache_from_and_cache_to_are_warned_about_by_name():
    spec = spec_of({"context": ".", "cache_from": ["type=registry,ref=x"], "cache_to": ["type=inline"]})
    assert spec.warnings == (
        "services.web.build.cache_from is not honoured by stackup (it keeps its own build cache)",
        "services.web.build.cache_to is not honoured by stackup (it keeps its own build cache)")


def test_secrets_from_files_and_the_environment_by_their_ids():
    declared = {"tok": {"name": "shop_tok", "file": "./tok.txt"}, "env": {"environment": "TOKEN"},
                "ext": {"external": True}}
    spec = spec_of({"context": ".", "secrets": ["tok", {"source": "env", "target": "api_key", "mode": 0o400}]},
                   secrets=declared)
    assert spec.options.secrets == {"tok": Path("/proj/tok.txt")}
    assert spec.env_secrets == {"api_key": "TOKEN"}
    assert spec.warnings == ("services.web.build.secrets[1]: uid, gid and mode are not honoured for build "
                             "secrets (as compose)",)
    with pytest.raises(NotFoundError, match=r"secrets\[0\]: secret 'nope' is not declared"):
        spec_of({"context": ".", "secrets": ["nope"]}, secrets=declared)
    with pytest.raises(UnsupportedError, match=r"secrets\[0\]: secret 'ext' is neither a file nor an environment"):
        spec_of({"context": ".", "secrets": ["ext"]}, secrets=declared)


def test_environment_secrets_live_in_private_files_only_while_building():
    spec = spec_of({"context": ".", "secrets": ["tok", "env"]},
                   secrets={"tok": {"file": "/run/tok"}, "env": {"environment": "TOKEN"}})
    options = resolved(spec, {}, {})
    with secret_files(spec, {"TOKEN": "s3cret"}, options) as final:
        path = final.secrets["env"]
        assert path.read_text() == "s3cret"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert final.secrets["tok"] == Path("/run/tok")
    assert not path.exists() and not path.parent.exists()
    with pytest.raises(UserError, match="reads the environment variable TOKEN, which is not set"):
        with secret_files(spec, {}, options):
            pass


def test_secret_files_are_removed_when_the_build_fails():
    spec = spec_of({"context": ".", "secrets": ["env"]}, secrets={"env": {"environment": "TOKEN"}})
    with pytest.raises(RuntimeError):
        with secret_files(spec, {"TOKEN": "x"}, resolved(spec, {}, {})) as final:
            folder = final.secrets["env"].parent
            raise RuntimeError("the build failed")
    assert not os.path.exists(folder)


def test_a_service_without_build_has_nothing_to_map():
    with pytest.raises(UserError, match="services.web: the service has no build section"):
        service_build("shop", "web", {"image": "x"})


def test_a_failed_build_keeps_the_failing_steps_last_lines():
    tail = StepTail()
    tail(StepEvent(1, "[web 1/2] FROM busybox", "done"))
    tail(StepEvent(2, "[web 2/2] RUN make", "started"))
    for i in range(15):
        tail(StepOutput(2, f"line {i}", 0.1 * i))
    tail(StepOutput(1, "other", 0.0))
    tail(StepEvent(2, "[web 2/2] RUN make", "error", error="exit code: 2"))
    failure = tail.failure(RuntimeError('process "/bin/sh -c make" did not complete successfully: exit code: 2'))
    assert isinstance(failure, BuildFailed) and failure.exit_code == 1
    assert str(failure) == 'failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2'
    assert failure.tail == [f"line {i}" for i in range(5, 15)]
    assert failure.lines()[1:3] == [" > [web 2/2] RUN make:", "   line 5"]
