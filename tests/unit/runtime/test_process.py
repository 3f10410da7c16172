"""User resolution through the image's /etc/passwd and /etc/group, and the final env."""

import pytest

from stackup.engine.runtime.process import UserNotFound, final_env, find_executable, resolve_user
from stackup.testing.rootfs import GROUP, PASSWD


def resolve(user):
    u = resolve_user(user, PASSWD, GROUP)
    return u.uid, u.gid, u.groups, u.home


def test_names_and_numbers():
    assert resolve("") == (0, 0, [0], "/root")
    assert resolve("app") == (1000, 1000, [1000, 100], "/home/app")  # users lists app
    assert resolve("1000") == (1000, 1000, [1000, 100], "/home/app")
    assert resolve("www-data:users") == (33, 100, [100], "/var/www")
    assert resolve("app:33") == (1000, 33, [33, 100], "/home/app")
    assert resolve("4242") == (4242, 0, [0], "/")  # a uid need not exist
    assert resolve("4242:4343") == (4242, 4343, [4343], "/")


def test_unknown_names_fail_clearly():
    with pytest.raises(UserNotFound, match="unable to find user ghost"):
        resolve("ghost")
    with pytest.raises(UserNotFound, match="unable to find group ghosts"):
        resolve("app:ghosts")


def test_final_env_adds_hostname_home_path():
    env = final_env(["A=1", "HOME=/h"], "box", "/root", tty=True)
    assert env["HOSTNAME"] == "box" and env["HOME"] == "/h" and env["A"] == "1"
    assert env["TERM"] == "xterm" and env["PATH"]
    assert "TERM" not in final_env([], "box", "/root", tty=False)


def test_find_executable(tmp_path):
    exe = tmp_path / "tool"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert find_executable("tool", f"/nonexistent:{tmp_path}") == str(exe)
    assert find_executable("missing", str(tmp_path)) is None
    assert find_executable("/abs/path", "") == "/abs/path"
