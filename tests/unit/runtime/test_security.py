"""Capabilities and the seccomp deny list."""

import pytest

from stackup.engine.runtime import security
from stackup.errors import UserError


def test_default_is_dockers_fourteen():
    caps = security.capability_set([], [], False)
    assert len(caps) == 14 and set(caps) == set(security.DOCKER_DEFAULT_CAPS)
    # Docker's well-known mask for these
    assert security.cap_mask(caps) == 0xA80425FB


def test_add_and_drop():
    caps = security.capability_set(["NET_ADMIN", "cap_sys_time"], ["MKNOD", "CAP_CHOWN"], False)
    assert "NET_ADMIN" in caps and "SYS_TIME" in caps
    assert "MKNOD" not in caps and "CHOWN" not in caps
    assert security.capability_set([], ["ALL"], False) == []
    assert security.capability_set(["KILL"], ["ALL"], False) == ["KILL"]
    assert "SYS_ADMIN" in security.capability_set(["ALL"], [], False)


def test_privileged_gets_everything_the_kernel_has():
    caps = security.capability_set([], ["ALL"], True)
    assert len(caps) == security.last_cap() + 1


def test_unknown_capability_is_a_user_error():
    with pytest.raises(UserError, match="unknown capability 'CAP_FLY'"):
        security.cap_number("CAP_FLY")


def _allowed(caps):
    from stackup.engine.runtime import seccomp

    return {name: conds for name, conds, action in seccomp.rules(caps) if action == "allow"}


def test_seccomp_is_an_allow_list_that_follows_capabilities():
    default = _allowed(security.capability_set([], [], False))
    for name in ("read", "write", "execve", "openat", "mmap", "futex", "wait4", "ptrace"):
        assert default[name] == []
    for name in ("mount", "umount2", "unshare", "setns", "init_module", "finit_module",
                 "kexec_load", "reboot", "bpf", "keyctl", "add_key", "open_by_handle_at",
                 "userfaultfd", "sethostname", "swapon", "pivot_root", "kcmp"):
        assert name not in default, name
    assert "chroot" in default  # SYS_CHROOT is a default capability
    admin = _allowed(security.capability_set(["SYS_ADMIN"], [], False))
    assert admin["mount"] == [] and admin["unshare"] == [] and "init_module" not in admin
    assert admin["clone"] == [] and "clone3" in admin  # plain clone and clone3 with SYS_ADMIN
    assert "chroot" not in _allowed(security.capability_set([], ["SYS_CHROOT"], False))
    assert "init_module" in _allowed(security.capability_set(["SYS_MODULE"], [], False))
    assert "syslog" in _allowed(["SYSLOG"]) and "vhangup" in _allowed(["SYS_TTY_CONFIG"])


def test_seccomp_argument_rules():
    from stackup.engine.runtime import seccomp

    rules = seccomp.rules(security.capability_set([], [], False))
    clone = [r for r in rules if r[0] == "clone"]
    assert clone == [("clone", [(0, seccomp.MASKED_EQ, 0x7E020000, 0)], "allow")]
    assert ("clone3", [], "enosys") in rules
    assert ("socket", [(0, seccomp.NE, 40, 0)], "allow") in rules
    personas = sorted(c[0][2] for n, c, _ in rules if n == "personality")
    assert personas == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]
    # every name appears once unconditionally at most
    plain = [n for n, c, _ in rules if not c and _ == "allow"]
    assert len(plain) == len(set(plain))
