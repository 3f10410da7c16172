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


def test_seccomp_deny_list_follows_capabilities():
    default = security.seccomp_denied(security.capability_set([], [], False))
    for name in ("mount", "umount2", "unshare", "setns", "init_module", "finit_module",
                 "kexec_load", "reboot", "bpf", "keyctl", "open_by_handle_at", "userfaultfd"):
        assert name in default
    assert "ptrace" not in default  # Docker allows it on kernels >= 4.8
    admin = security.seccomp_denied(security.capability_set(["SYS_ADMIN"], [], False))
    assert "mount" not in admin and "unshare" not in admin and "init_module" in admin
    module = security.seccomp_denied(security.capability_set(["SYS_MODULE"], [], False))
    assert "init_module" not in module
