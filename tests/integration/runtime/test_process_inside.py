"""What the process inside sees: PID 1, hostname, env, user, working dir, exit codes."""

import pytest

from stackup.testing.containers import output, run, sh, spec

pytestmark = pytest.mark.root


def test_pid1_hostname_env_workdir(rt):
    code, out, state = sh(rt, 'echo "pid=$$ host=$(hostname) foo=$FOO home=$HOME pwd=$(pwd)"',
                          hostname="box", env=["FOO=bar", "PATH=/bin"], working_dir="/srv/app")
    assert code == 0
    assert out.strip() == "pid=1 host=box foo=bar home=/root pwd=/srv/app"
    assert state.status == "exited" and state.exit_code == 0


def test_default_hostname_is_short_id_and_domainname(rt):
    code, out, state = sh(rt, "hostname; cat /proc/sys/kernel/domainname; cat /etc/hostname",
                          domainname="example.org")
    assert out.split() == [state.id[:12], "example.org", state.id[:12]]


@pytest.mark.parametrize("user,expected", [
    ("app", "uid=1000(app) gid=1000(app) groups=100(users),1000(app)"),
    ("33:100", "uid=33(www-data) gid=100(users) groups=100(users)"),
    ("4242", "uid=4242 gid=0(root) groups=0(root)"),
])
def test_user_resolution(rt, user, expected):
    code, out, _ = run(rt, ["id"], user=user)
    assert code == 0 and out.strip() == expected


def test_unknown_user_fails_start(rt):
    from stackup.engine.runtime.container import StartError

    state = rt.create(spec(rt, ["id"], user="ghost"))
    with pytest.raises(StartError, match="unable to find user ghost") as err:
        rt.start(state.id)
    assert err.value.exit_code == 125
    assert rt.get(state.id).status == "exited"


@pytest.mark.parametrize("script,code", [("exit 0", 0), ("exit 3", 3), ("exit 255", 255),
                                         ("sh -c 'kill -9 $$'; exit $?", 137)])
def test_exit_codes(rt, script, code):
    assert sh(rt, script)[0] == code


def test_missing_command_is_127(rt):
    from stackup.engine.runtime.container import StartError

    state = rt.create(spec(rt, ["no-such-binary"]))
    with pytest.raises(StartError, match="executable file not found") as err:
        rt.start(state.id)
    assert err.value.exit_code == 127


def test_stdout_and_stderr_are_separate_streams(rt):
    state = rt.create(spec(rt, ["sh", "-c", "echo out; echo err >&2"]))
    rt.start(state.id)
    rt.wait(state.id)
    assert output(rt, state.id, "stdout") == "out\n"
    assert output(rt, state.id, "stderr") == "err\n"


def test_ulimits_and_sysctls(rt):
    code, out, _ = sh(rt, "ulimit -n; cat /proc/sys/net/ipv4/ip_forward",
                      ulimits={"nofile": [123, 456]}, sysctls={"net.ipv4.ip_forward": "1"})
    assert out.split() == ["123", "1"]


def test_bind_and_tmpfs_mounts_and_read_only_root(rt, tmp_path):
    from stackup.engine.runtime.spec import Mount

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_text("hostfile\n")
    mounts = [Mount(type="bind", source=str(tmp_path / "data"), target="/data", read_only=True),
              Mount(type="tmpfs", target="/scratch", options={"size": "1m"})]
    code, out, _ = sh(rt, "cat /data/f; touch /data/x 2>/dev/null || echo data-ro; "
                          "touch /scratch/x && echo scratch-rw; "
                          "touch /newfile 2>/dev/null || echo root-ro",
                      mounts=mounts, read_only=True)
    assert out.split() == ["hostfile", "data-ro", "scratch-rw", "root-ro"]


def test_writes_stay_in_the_container_layer(rt):
    code, out, state = sh(rt, "echo hi > /etc/added; cat /etc/added")
    assert out == "hi\n"
    assert not (rt.layer / "etc" / "added").exists()
    assert (rt.cdir(state.id) / "upper" / "etc" / "added").exists()


def test_network_none_has_only_loopback_and_host_sees_host(rt):
    _, out, _ = sh(rt, "cat /proc/net/dev | tail -n +3 | cut -d: -f1")
    assert out.split() == ["lo"]
    _, out, _ = sh(rt, "cat /proc/net/dev | tail -n +3 | cut -d: -f1", network_mode="host")
    assert len(out.split()) > 1


def test_signals_start_at_default(rt):
    # Python ignores SIGPIPE; a container's process must not inherit that.
    _, out, _ = run(rt, ["cat", "/proc/self/status"])
    fields = dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)
    assert fields["SigIgn"] == "0000000000000000" and fields["SigBlk"] == "0000000000000000"


def test_many_long_named_layers_stack_in_order(rt, tmp_path):
    layers = [str(rt.layer)]
    for i in range(45):
        layer = tmp_path / ("layer-with-a-rather-long-directory-name-" + "x" * 40 + f"-{i:02d}")
        (layer / "stack").mkdir(parents=True)
        (layer / "stack" / f"f{i:02d}").write_text(str(i))
        (layer / "stack" / "top").write_text(str(i))  # the upper layer wins
        layers.append(str(layer))
    from stackup.engine.runtime.spec import ContainerSpec

    state = rt.create(ContainerSpec(layers=layers, argv=["sh", "-c", "ls /stack | wc -l; cat /stack/top"]))
    rt.start(state.id)
    rt.wait(state.id)
    from stackup.testing.containers import output

    assert output(rt, state.id).split() == ["46", "44"]
