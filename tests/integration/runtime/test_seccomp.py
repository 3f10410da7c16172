"""The seccomp filter on the real kernel.

The filter is loaded in a forked child that is root with every capability, so a call
that fails there with EPERM was refused by the filter, not by a capability check (the
same calls succeed in a child without the filter: the control). Then from inside real
containers: ordinary programs work, and unconfined lifts the filter."""

import ctypes
import json
import os

import pytest

from stackup.engine.runtime import security, seccomp
from stackup.testing.containers import sh

pytestmark = pytest.mark.root

CLONE_NEWUTS = 0x04000000
SIGCHLD = 17
KEYCTL_JOIN_SESSION_KEYRING = 1
BPF_MAP_CREATE = 0


def _probe() -> dict:
    """Call each interesting syscall raw; {name: errno (0: it worked)}."""
    libc = ctypes.CDLL(None, use_errno=True)
    lib = seccomp.libseccomp()
    libc.syscall.restype = ctypes.c_long

    def call(name, *args):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        ctypes.set_errno(0)
        rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
        return rc, ctypes.get_errno()

    out = {}
    rc, err = call("unshare", CLONE_NEWUTS)
    out["unshare"] = 0 if rc == 0 else err
    rc, err = call("keyctl", KEYCTL_JOIN_SESSION_KEYRING, 0)
    out["keyctl"] = 0 if rc >= 0 else err
    attr = ctypes.create_string_buffer(128)  # an invalid map (all zero): EINVAL unfiltered
    rc, err = call("bpf", BPF_MAP_CREATE, ctypes.addressof(attr), 128)
    out["bpf"] = 0 if rc >= 0 else err
    buf = ctypes.create_string_buffer(b"/nonexistent-src")
    rc, err = call("mount", ctypes.addressof(buf), ctypes.addressof(buf), 0, 0, 0)
    out["mount"] = err  # ENOENT unfiltered
    rc, err = call("clone", CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0)
    if rc == 0:
        os._exit(0)  # the clone worked: this is the child
    if rc > 0:
        os.waitpid(rc, 0)
    out["clone_newuts"] = 0 if rc > 0 else err
    pid = os.fork()  # plain clone (no namespace flags) must work under the filter
    if pid == 0:
        os._exit(7)
    out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    rc, err = call("clone3", 0, 0)
    out["clone3"] = err  # EFAULT/EINVAL unfiltered, ENOSYS filtered
    rc, err = call("socket", 40, 1, 0)  # AF_VSOCK
    out["vsock"] = 0 if rc >= 0 else err
    rc, err = call("socket", 1, 1, 0)  # AF_UNIX
    out["unix"] = 0 if rc >= 0 else err
    rc, err = call("personality", 0xFFFFFFFF)
    out["personality_query"] = 0 if rc >= 0 else err
    rc, err = call("personality", 0x0400000)  # READ_IMPLIES_EXEC: not a persona Docker allows
    out["personality_rie"] = 0 if rc >= 0 else err
    call("personality", 0)
    return out


def _in_child(caps):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if caps is not None:
                security.load_seccomp(caps)
            os.write(w, json.dumps(_probe()).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def as_root():
    if os.geteuid() != 0:
        pytest.skip("needs root")


def test_control_without_filter_the_calls_go_through(as_root):
    out = _in_child(None)
    assert out["unshare"] == 0 and out["keyctl"] == 0 and out["clone_newuts"] == 0
    assert out["mount"] == 2 and out["bpf"] != 1 and out["clone3"] not in (1, 38)


def test_default_profile_refuses_with_eperm(as_root):
    out = _in_child(security.capability_set([], [], False))
    for name in ("unshare", "keyctl", "bpf", "mount", "clone_newuts", "vsock",
                 "personality_rie"):
        assert out[name] == 1, (name, out)  # EPERM
    assert out["clone3"] == 38  # ENOSYS, so that libc falls back to clone
    assert out["fork"] == 7 and out["unix"] == 0 and out["personality_query"] == 0


def test_sys_admin_allows_its_group(as_root):
    out = _in_child(security.capability_set(["SYS_ADMIN"], [], False))
    assert out["unshare"] == 0 and out["clone_newuts"] == 0 and out["mount"] == 2
    assert out["keyctl"] == 1  # not tied to any capability


def test_ordinary_programs_work_under_the_filter(rt):
    script = ("mkdir -p /www; echo hello > /www/index.html; "
              "httpd -p 127.0.0.1:8080 -h /www; sleep 0.3; "
              "wget -qO- http://127.0.0.1:8080/index.html; "
              "echo a b c | awk '{print $2}' | sort | tr a-z A-Z; "
              "sh -c 'exit 3'; echo code=$?; "
              "grep Seccomp: /proc/self/status")
    code, out, err = sh(rt, script)
    assert code == 0, err
    assert out.split() == ["hello", "B", "code=3", "Seccomp:", "2"], (out, err)


def test_a_user_namespace_needs_no_capability_but_the_filter_refuses_it(rt):
    script = "unshare -U true 2>&1 && echo made-userns || echo refused"
    _, out, _ = sh(rt, script)
    assert "refused" in out and "Operation not permitted" in out, out
    _, out, _ = sh(rt, script, seccomp=False)
    assert out.strip().endswith("made-userns"), out


def test_the_compiled_filter_is_cached_and_loads_the_same(as_root, tmp_path):
    caps = security.capability_set([], [], False)
    prog = seccomp.prepare(caps, str(tmp_path))
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].read_bytes() == prog and len(prog) % 8 == 0
    assert seccomp.prepare(caps, str(tmp_path)) == prog  # read back from the cache
    admin = security.capability_set(["SYS_ADMIN"], [], False)
    assert seccomp.prepare(admin, str(tmp_path)) != prog and len(list(tmp_path.iterdir())) == 2
    cached = _in_child(caps)  # `load` now installs the prepared program with prctl
    seccomp._PREPARED.clear()
    built = _in_child(caps)   # and without it, builds through libseccomp
    assert cached == built and cached["unshare"] == 1 and cached["fork"] == 7
