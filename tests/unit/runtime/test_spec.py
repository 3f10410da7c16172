"""Combining an image config with the caller's overrides, and parsing limits."""

import pytest

from stackup.engine.runtime import spec as sp
from stackup.errors import UnsupportedError, UserError


def test_entrypoint_and_cmd_combined_as_docker_does():
    assert sp.combine_argv(["/entry"], ["a"], None, None) == ["/entry", "a"]
    assert sp.combine_argv(["/entry"], ["a"], None, ["b"]) == ["/entry", "b"]
    assert sp.combine_argv(["/entry"], ["a"], ["/new"], None) == ["/new"]  # image cmd dropped
    assert sp.combine_argv(["/entry"], ["a"], ["/new"], ["c"]) == ["/new", "c"]
    assert sp.combine_argv(None, ["sh"], None, None) == ["sh"]
    assert sp.combine_argv(["/entry"], ["a"], [], None) == []


def test_env_merge_overrides_by_name_and_keeps_path():
    env = sp.merge_env(["PATH=/x", "A=1", "B=2"], ["A=3", "C=4"])
    assert env == ["PATH=/x", "A=3", "B=2", "C=4"]
    assert "PATH=" + sp.DEFAULT_PATH in sp.merge_env([], ["X=1"])
    with pytest.raises(UserError):
        sp.merge_env([], ["=oops"])


def test_spec_from_image_dict_and_object():
    class Config:
        env = ["PATH=/bin", "LANG=C"]
        cmd = ["sh"]
        entrypoint = None
        working_dir = "/srv"
        user = "app"
        labels = {"a": "1"}
        stop_signal = "SIGQUIT"
        healthcheck = None

    s = sp.spec_from_image(Config(), ["/l0", "/l1"], image="busybox", env=["LANG=en"],
                           labels={"b": "2"})
    assert s.argv == ["sh"] and s.working_dir == "/srv" and s.user == "app"
    assert s.env == ["PATH=/bin", "LANG=en"] and s.labels == {"a": "1", "b": "2"}
    assert s.stop_signal == "SIGQUIT" and s.layers == ["/l0", "/l1"]
    d = sp.spec_from_image({"cmd": ["x"]}, ["/l"], user="0:0", working_dir="/w")
    assert d.user == "0:0" and d.working_dir == "/w" and d.stop_signal == "SIGTERM"


def test_roundtrip_through_dict():
    s = sp.ContainerSpec(argv=["a"], mounts=[sp.Mount(type="tmpfs", target="/t")])
    assert sp.ContainerSpec.from_dict(s.to_dict()) == s


def test_restart_policies():
    assert sp.parse_restart("on-failure:3") == ("on-failure", 3)
    assert sp.parse_restart("always") == ("always", 0)
    for bad in ("sometimes", "always:2", "on-failure:x"):
        with pytest.raises(UserError):
            sp.parse_restart(bad)


def test_ulimits_and_sysctls():
    assert sp.parse_ulimit("nofile=100:200") == ("nofile", [100, 200])
    assert sp.parse_ulimit("nproc=5") == ("nproc", [5, 5])
    for bad in ("nofile", "bogus=1", "nofile=2:1", "nofile=a"):
        with pytest.raises(UserError):
            sp.parse_ulimit(bad)
    sp.check_sysctl("net.ipv4.ip_forward")
    sp.check_sysctl("kernel.shmmax")
    with pytest.raises(UserError, match="not namespaced"):
        sp.check_sysctl("kernel.panic")


def test_validate_reports_what_is_wrong():
    ok = sp.ContainerSpec(argv=["true"])
    sp.validate(ok)
    cases = [(dict(argv=[]), "no command"), (dict(working_dir="rel"), "absolute"),
             (dict(cap_add=["NOPE"]), "unknown capability"),
             (dict(auto_remove=True, restart="always"), "--rm"),
             (dict(mounts=[sp.Mount(type="volume", target="/x")]), "bind or tmpfs"),
             (dict(mounts=[sp.Mount(type="bind", source="rel", target="/x")]), "absolute host"),
             (dict(memory=100, memory_swap=50), "memory-swap"),
             (dict(network_mode="bogus"), "network mode")]
    for change, message in cases:
        with pytest.raises(UserError, match=message):
            sp.validate(sp.ContainerSpec(**{"argv": ["true"], **change}))


def test_healthcheck_forms():
    from stackup.engine.runtime.healthcheck import Check

    hc = Check.from_docker({"Test": ["CMD-SHELL", "exit 0"], "Retries": 5, "Interval": 2_000_000_000,
                            "StartPeriod": 5_000_000_000})
    assert hc == Check(test=["CMD-SHELL", "exit 0"], interval=2.0, timeout=30.0, retries=5,
                       start_period=5.0, start_interval=5.0)
    assert hc.argv() == ["/bin/sh", "-c", "exit 0"]
    # field names in any case (as Go decodes image configs), times as Go durations too
    assert Check.from_docker({"test": ["CMD", "curl", "x"], "interval": "10s"}).interval == 10.0
    assert Check.from_docker({"test": ["CMD", "curl", "x"]}).argv() == ["curl", "x"]
    assert Check.from_docker({"Test": ["NONE"]}) is None and Check.from_docker({}) is None
    assert Check.from_docker(None) is None
    assert Check.from_docker({"Test": "true"}).argv() == ["/bin/sh", "-c", "true"]
    with pytest.raises(UserError, match="expected CMD, CMD-SHELL or NONE"):
        Check.from_docker({"Test": ["SHELL", "x"]})
    with pytest.raises(UserError, match="invalid duration 'soon'"):
        Check.from_docker({"Test": ["CMD", "true"], "Interval": "soon"})
    with pytest.raises(UserError, match="must not be negative"):
        Check.from_docker({"Test": ["CMD", "true"], "Timeout": "-1s"})


def test_security_opts():
    assert sp.parse_security_opts(["no-new-privileges"]) == {"no_new_privileges": True}
    assert sp.parse_security_opts(["no-new-privileges:false", "seccomp=unconfined"]) == {
        "no_new_privileges": False, "seccomp": False}
    with pytest.raises(UnsupportedError, match=r"^--security-opt 'apparmor=x' is not supported by stackup"):
        sp.parse_security_opts(["apparmor=x"], "--security-opt")
