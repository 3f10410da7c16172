"""An image's symlinks never lead the root's assembly to the host's files.

The root is built from the host's side before pivot_root: a layer whose /etc is a link
to an absolute host path, or a mount target below a link to `/`, must be resolved
inside the container's root (as Docker does), so nothing is created or mounted on the
host. The host paths the links name are unique directories in /tmp, made and removed
by each test, so a regression writes only there.
"""

import os
import shutil
import uuid

import pytest

from stackup.engine.runtime.container import StartError
from stackup.engine.runtime.spec import ContainerSpec, Mount
from stackup.testing.containers import output

pytestmark = pytest.mark.root


@pytest.fixture
def bait():
    """Unique host directories an escaping step would write into; gone afterwards."""
    base = f"/tmp/securejoin-{uuid.uuid4().hex[:12]}"
    made = {name: f"{base}-{name}" for name in ("etc", "mnt")}
    for path in made.values():
        os.mkdir(path)
    yield made
    for path in made.values():
        shutil.rmtree(path, ignore_errors=True)


def layer_with_links(tmp_path, links: dict[str, str]):
    top = tmp_path / "top"
    top.mkdir()
    for name, target in links.items():
        os.symlink(target, top / name)
    return str(top)


def run_to_exit(rt, spec):
    state = rt.create(spec)
    rt.start(state.id)
    return rt.wait(state.id, timeout=60), output(rt, state.id)


def test_links_to_host_paths_stay_inside_the_container(rt, tmp_path, bait):
    top = layer_with_links(tmp_path, {"etc": bait["etc"], "hostroot": "/"})
    source = tmp_path / "source"
    source.mkdir()
    (source / "marker").write_text("from-the-host-source\n")
    target = f"/hostroot{bait['mnt']}/data"  # through a link to `/`
    spec = ContainerSpec(layers=[str(rt.layer), top], argv=["sh", "-c", (
        f"cat /etc/hostname; cat {bait['mnt']}/data/marker; ls {bait['etc']}; "
        "grep -c securejoin /proc/self/mountinfo")], hostname="sj-host",
        mounts=[Mount(type="bind", source=str(source), target=target)])
    code, out = run_to_exit(rt, spec)
    # nothing was created on the host where the links point...
    assert os.listdir(bait["etc"]) == [] and os.listdir(bait["mnt"]) == []
    assert code == 0, out
    lines = out.split()
    # ...but inside the root: /etc (-> the bait path) was made there, the files bound in it
    assert lines[:2] == ["sj-host", "from-the-host-source"]
    assert {"hostname", "hosts", "resolv.conf"} <= set(lines[2:-1])
    assert int(lines[-1]) >= 4  # hostname, hosts, resolv.conf and the bind mount


def test_proc_as_a_symlink_is_refused_with_one_line(rt, tmp_path, bait):
    top = layer_with_links(tmp_path, {"proc": bait["mnt"]})
    state = rt.create(ContainerSpec(layers=[str(rt.layer), top], argv=["true"]))
    with pytest.raises(StartError) as info:
        rt.start(state.id)
    assert str(info.value).endswith(
        "cannot mount on /proc: it is a symbolic link in the image, an ordinary directory "
        "is needed")
    assert "\n" not in str(info.value)
    assert os.listdir(bait["mnt"]) == []


def test_symlink_loop_fails_with_one_line(rt, tmp_path, bait):
    top = layer_with_links(tmp_path, {"etc": "/loop", "loop": "etc"})
    state = rt.create(ContainerSpec(layers=[str(rt.layer), top], argv=["true"]))
    with pytest.raises(StartError) as info:
        rt.start(state.id)
    assert str(info.value).endswith(
        "cannot resolve /etc/hostname in the container's root: more than 255 symbolic links")


def test_a_link_inside_a_mounted_volume_is_followed_in_the_root_too(rt, tmp_path, bait):
    # the pattern of runc's CVE-2021-30465, without the race: a mount below another
    # mount whose source holds a link to `/`
    volume = tmp_path / "volume"
    volume.mkdir()
    os.symlink("/", volume / "esc")
    target = f"/vol/esc{bait['mnt']}/cache"
    spec = ContainerSpec(layers=[str(rt.layer)], argv=["sh", "-c", (
        f"touch {bait['mnt']}/cache/x && grep -c ' {bait['mnt']}/cache ' /proc/self/mountinfo")],
        mounts=[Mount(type="bind", source=str(volume), target="/vol"),
                Mount(type="tmpfs", target=target)])
    code, out = run_to_exit(rt, spec)
    assert os.listdir(bait["mnt"]) == [] and os.listdir(volume) == ["esc"]
    assert (code, out.strip()) == (0, "1"), out
