"""Everything the default profile promises, checked from inside the container."""

import pytest

from stackup.testing.containers import sh

pytestmark = pytest.mark.root


def status_field(out: str, name: str) -> str:
    return next(line.split()[1] for line in out.splitlines() if line.startswith(name + ":"))


def test_capabilities_no_new_privs_and_seccomp(rt):
    _, out, _ = sh(rt, "cat /proc/self/status")
    assert status_field(out, "CapEff") == "00000000a80425fb"  # Docker's default 14
    assert status_field(out, "CapBnd") == "00000000a80425fb"
    assert status_field(out, "CapInh") == "0000000000000000"
    assert status_field(out, "NoNewPrivs") == "1"
    assert status_field(out, "Seccomp") == "2"


def test_non_root_user_has_no_effective_capabilities(rt):
    _, out, _ = sh(rt, "cat /proc/self/status", user="app")
    assert status_field(out, "CapEff") == "0000000000000000"
    assert status_field(out, "CapBnd") == "00000000a80425fb"


def test_cap_add_and_drop(rt):
    _, out, _ = sh(rt, "cat /proc/self/status", cap_add=["NET_ADMIN"], cap_drop=["MKNOD"])
    mask = int(status_field(out, "CapEff"), 16)
    assert mask & (1 << 12) and not mask & (1 << 27)


def test_masked_paths_are_empty_and_proc_sys_read_only(rt):
    # kcore is masked (or absent on kernels without it): either way nothing can be read
    script = ("cat /proc/kcore 2>/dev/null | wc -c; cat /proc/keys | wc -c; "
              "cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; "
              "(echo 1 > /proc/sys/kernel/panic) 2>/dev/null && echo sys-writable || echo sys-ro; "
              "(echo b > /proc/sysrq-trigger) 2>/dev/null && echo sysrq-writable || echo sysrq-ro; "
              "touch /sys/x 2>/dev/null && echo sysfs-rw || echo sysfs-ro")
    _, out, _ = sh(rt, script)
    assert out.split() == ["0", "0", "0", "0", "sys-ro", "sysrq-ro", "sysfs-ro"]


def test_escape_attempts_fail(rt):
    script = ("mkdir -p /mnt/x; mount -t tmpfs none /mnt/x 2>/dev/null && echo mounted || echo no-mount; "
              "mknod /tmp/sda b 8 0 2>/dev/null; "
              "dd if=/tmp/sda of=/dev/null bs=512 count=1 2>/dev/null && echo disk-read || echo no-disk; "
              "mknod /tmp/mem c 1 1 2>/dev/null; "
              "head -c 1 /tmp/mem >/dev/null 2>&1 && echo mem-read || echo no-mem; "
              "echo > /tmp/m.ko; insmod /tmp/m.ko 2>/dev/null && echo module || echo no-module; "
              "unshare -m true 2>/dev/null && echo unshared || echo no-unshare; "
              "hostname evil 2>/dev/null && echo renamed || echo no-rename; "
              "chroot / true && echo chroot-ok")
    _, out, _ = sh(rt, script)
    assert out.split() == ["no-mount", "no-disk", "no-mem", "no-module", "no-unshare",
                           "no-rename", "chroot-ok"]


def test_devices_present(rt):
    _, out, _ = sh(rt, "ls /dev; echo x > /dev/null && head -c 4 /dev/zero | wc -c; "
                       "head -c 4 /dev/urandom | wc -c; df -k /dev/shm | tail -1")
    names = out.split()
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
                "mqueue", "fd", "stdin", "stdout", "stderr"):
        assert dev in names, dev
    assert "65536" in out  # /dev/shm: 64 MiB by default


def test_privileged_lifts_the_profile(rt):
    _, out, _ = sh(rt, "cat /proc/self/status; mkdir -p /mnt/x; "
                       "mount -t tmpfs none /mnt/x && echo mounted", privileged=True)
    assert status_field(out, "Seccomp") == "0"
    assert int(status_field(out, "CapEff"), 16) & (1 << 21)  # SYS_ADMIN
    assert "mounted" in out


def test_seccomp_unconfined_and_new_privs_allowed(rt):
    _, out, _ = sh(rt, "cat /proc/self/status", seccomp=False, no_new_privileges=False)
    assert status_field(out, "Seccomp") == "0" and status_field(out, "NoNewPrivs") == "0"
