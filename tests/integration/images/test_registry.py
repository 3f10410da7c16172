"""Pull and push against a real registry (Debian's docker-registry), with skopeo as the other client."""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from stackup.engine.images import digest as dg
from stackup.engine.images import mediatypes as mt
from stackup.engine.images import platform as plat
from stackup.engine.images.errors import AuthError, DigestMismatchError
from stackup.engine.images.progress import PlainProgress
from stackup.engine.images.pull import pull
from stackup.engine.images.push import push
from stackup.engine.images.registry import RegistrySettings
from stackup.engine.images.store import ImageStore
from stackup.errors import NotFoundError
from stackup.testing.images import busybox_image
from stackup.testing.layers import TarBuilder
from stackup.testing.oci import OciLayout
from stackup.testing.processes import gone
from stackup.testing.registry import PASSWORD, REGISTRY_BIN, USER, LocalRegistry, make_tls
from stackup.testing.rootfs import BUSYBOX
from stackup.testing.trees import signature

pytestmark = [pytest.mark.root, pytest.mark.skipif(not REGISTRY_BIN.exists(), reason="docker-registry missing")]

if os.geteuid() != 0:
    pytest.skip("needs root (layers keep owners and devices)", allow_module_level=True)

HOST = plat.host()
OTHER = plat.Platform("linux", "arm64", "v8") if HOST.architecture != "arm64" else plat.Platform("linux", "amd64")

BASE = (TarBuilder().dir("etc").file("etc/os-release", b"ID=stackup\n").file("etc/shadow", b"x", mode=0o600)
        .dir("var/cache", mode=0o700, uid=33, gid=33).file("var/cache/a", b"a" * 5000, uid=33, gid=33)
        .file("var/cache/b", b"b").symlink("etc/link", "/etc/os-release").hardlink("etc/hard", "etc/os-release")
        .device("dev/null", "chr", 1, 3).file("bin/tool", b"#!/bin/sh\n", mode=0o4755).bytes())
TOP = (TarBuilder().whiteout("etc/shadow").opaque("var/cache").file("var/cache/new", b"n")
       .file("etc/os-release", b"ID=changed\n").bytes())
ARM = TarBuilder().file("arm-only", b"arm").bytes()


@pytest.fixture(params=["none", "htpasswd", "token"])
def registry(request, tmp_path, monkeypatch):
    with LocalRegistry(tmp_path / "registry", auth=request.param) as reg:
        monkeypatch.setenv("DOCKER_CONFIG", str(reg.docker_config(tmp_path / "docker")))
        yield reg


@pytest.fixture
def plain_registry(tmp_path, monkeypatch):
    with LocalRegistry(tmp_path / "plain-registry") as reg:
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
        yield reg


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "root"))
    return ImageStore()


def skopeo(*args):
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def skopeo_push_layout(reg, tmp_path, name: str, layers_by_platform, fmt=None, compression="gzip"):
    layout = OciLayout(tmp_path / f"oci-{name.replace('/', '_').replace(':', '_')}")
    descs = [layout.image(layers, platform=tuple(p for p in (pl.os, pl.architecture, pl.variant) if p),
                          compression=compression) for pl, layers in layers_by_platform]
    if len(descs) > 1:
        layout.index(descs + [layout.attestation(descs[0])], tag="t")
        extra = ["--all"]
    else:
        layout._add(descs[0], "t")
        extra = []
    fmt_args = ["--format", fmt] if fmt else []
    skopeo("copy", "-q", *extra, *fmt_args, "--dest-tls-verify=false", *reg.skopeo_creds("dest"),
           f"oci:{layout.root}:t", f"docker://{reg.host}/{name}")
    return descs


def reference_trees(reg, tmp_path, name: str) -> list[dict]:
    """The image's layers as skopeo fetches them and GNU tar unpacks them."""
    target = tmp_path / "skopeo-dir"
    skopeo("copy", "-q", "--src-tls-verify=false", *reg.skopeo_creds("src"), f"docker://{reg.host}/{name}",
           f"dir:{target}")
    manifest = json.loads((target / "manifest.json").read_text())
    trees = []
    for n, layer in enumerate(manifest["layers"]):
        out = tmp_path / f"tar-{n}"
        out.mkdir()
        subprocess.run(["tar", "-xf", str(target / dg.hex_of(layer["digest"])), "-C", str(out),
                        "--same-owner", "--same-permissions", "--xattrs"], check=True)
        trees.append(signature(out, aufs_whiteouts=True))
    return trees


def test_pull_multiplatform_index_pushed_by_skopeo(registry, store, tmp_path):
    skopeo_push_layout(registry, tmp_path, "team/app:1", [(HOST, [BASE, TOP]), (OTHER, [ARM])])
    progress = io.StringIO()
    image = pull(store, f"{registry.host}/team/app:1", progress=PlainProgress(progress))
    assert image.references == [f"{registry.host}/team/app:1"]
    assert image.architecture == HOST.architecture and len(image.layer_dirs()) == 2
    assert [signature(d) for d in image.layer_dirs()] == reference_trees(registry, tmp_path, "team/app:1")
    top = image.layer_dirs()[1]
    assert os.getxattr(top / "var/cache", "trusted.overlay.opaque") == b"y"
    assert os.lstat(top / "etc/shadow").st_rdev == os.makedev(0, 0)
    assert "Pull complete" in progress.getvalue()
    (repo_digest,) = image.repo_digests
    assert store.resolve(repo_digest).id == image.id
    if registry.tokens:
        assert all(r["service"] == ["stackup-test-registry"] for r in registry.tokens.requests)


def test_platform_choice_and_attestations_never_chosen(plain_registry, store, tmp_path):
    skopeo_push_layout(plain_registry, tmp_path, "multi:1", [(HOST, [BASE]), (OTHER, [ARM])])
    other = pull(store, f"{plain_registry.host}/multi:1", platform=OTHER)
    assert other.architecture == OTHER.architecture
    assert os.listdir(other.layer_dirs()[0]) == ["arm-only"]
    with pytest.raises(NotFoundError, match="no image for unknown/unknown"):
        pull(store, f"{plain_registry.host}/multi:1", platform=plat.Platform("unknown", "unknown"))
    with pytest.raises(NotFoundError, match="available: "):
        pull(store, f"{plain_registry.host}/multi:1", platform=plat.Platform("linux", "s390x"))


@pytest.mark.parametrize("fmt, compression", [("v2s2", "gzip"), (None, "zstd"), (None, "none")])
def test_docker_media_types_and_every_compression(plain_registry, store, tmp_path, fmt, compression):
    skopeo_push_layout(plain_registry, tmp_path, "c:1", [(HOST, [BASE, TOP])], fmt=fmt, compression=compression)
    image = pull(store, f"{plain_registry.host}/c:1")
    if fmt == "v2s2":
        assert image.manifest_media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert [signature(d) for d in image.layer_dirs()] == reference_trees(plain_registry, tmp_path, "c:1")


def test_layers_shared_with_an_image_already_present(plain_registry, store, tmp_path):
    skopeo_push_layout(plain_registry, tmp_path, "one:1", [(HOST, [BASE])])
    skopeo_push_layout(plain_registry, tmp_path, "two:1", [(HOST, [BASE, TOP])])
    one = pull(store, f"{plain_registry.host}/one:1")
    out = io.StringIO()
    two = pull(store, f"{plain_registry.host}/two:1", progress=PlainProgress(out))
    assert two.layer_dirs()[0] == one.layer_dirs()[0]
    assert "Already exists" in out.getvalue()


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static missing")
def test_push_then_pull_back_bit_for_bit(registry, store, tmp_path):
    image = busybox_image(store, f"{registry.host}/tools/busybox:v1")
    layer_sig = signature(image.layer_dirs()[0])
    digest = push(store, f"{registry.host}/tools/busybox:v1")
    assert digest == image.manifest_digest
    # Another client sees exactly the stored bytes.
    target = tmp_path / "fetched"
    skopeo("copy", "-q", "--src-tls-verify=false", *registry.skopeo_creds("src"),
           f"docker://{registry.host}/tools/busybox:v1", f"dir:{target}")
    assert (target / "manifest.json").read_bytes() == store.blobs.read(image.manifest_digest)
    for desc in [store.manifest(image)["config"]] + store.manifest(image)["layers"]:
        assert (target / dg.hex_of(desc["digest"])).read_bytes() == store.blobs.read(desc["digest"])
    # The imported layer went out compressed.
    (layer,) = store.manifest(image)["layers"]
    assert layer["mediaType"] == mt.OCI_LAYER_GZIP
    assert (target / dg.hex_of(layer["digest"])).read_bytes()[:2] == b"\x1f\x8b"
    # A second push finds every blob there already.
    out = io.StringIO()
    push(store, f"{registry.host}/tools/busybox:v1", progress=PlainProgress(out))
    assert out.getvalue().count("Layer already exists") == 2 and "Pushed" not in out.getvalue()
    # Removed and pulled back: same image, same files.
    store.rm(f"{registry.host}/tools/busybox:v1")
    assert store.list() == []
    again = pull(store, f"{registry.host}/tools/busybox:v1")
    assert again.id == image.id and signature(again.layer_dirs()[0]) == layer_sig


def test_basic_auth_needs_the_right_credentials(tmp_path, store, monkeypatch):
    with LocalRegistry(tmp_path / "reg", auth="htpasswd") as reg:
        skopeo_push_layout(reg, tmp_path, "private:1", [(HOST, [BASE])])
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
        with pytest.raises(AuthError, match="needs a user name and password"):
            pull(store, f"{reg.host}/private:1")
        monkeypatch.setenv("DOCKER_CONFIG", str(reg.docker_config(tmp_path / "bad", password="wrong")))
        with pytest.raises(AuthError, match="denied"):
            pull(store, f"{reg.host}/private:1")
        assert store.list() == []


def test_credentials_from_a_credential_helper(tmp_path, store, monkeypatch):
    """credsStore in config.json: docker-credential-<name> get answers with the registry's login."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-testvault"
    helper.write_text("#!/bin/sh\nread -r server\necho \"$server\" >> %s\n"
                      "printf '{\"ServerURL\":\"%%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}' \"$server\"\n"
                      % (tmp_path / "asked", USER, PASSWORD))
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    with LocalRegistry(tmp_path / "reg", auth="htpasswd") as reg:
        skopeo_push_layout(reg, tmp_path, "vaulted:1", [(HOST, [BASE])])
        (tmp_path / "docker").mkdir()
        (tmp_path / "docker" / "config.json").write_text(json.dumps({"credsStore": "testvault"}))
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
        image = pull(store, f"{reg.host}/vaulted:1")
        assert image.references == [f"{reg.host}/vaulted:1"]
        assert (tmp_path / "asked").read_text().split() == [reg.host]


def test_token_auth_anonymous_pull_but_no_anonymous_push(tmp_path, store, monkeypatch):
    with LocalRegistry(tmp_path / "reg", auth="token") as reg:
        skopeo_push_layout(reg, tmp_path, "pub:1", [(HOST, [BASE])])
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
        image = pull(store, f"{reg.host}/pub:1")
        assert reg.tokens.requests[-1]["user"] is None
        store.tag(image.id, f"{reg.host}/pub:2")
        with pytest.raises(AuthError):
            push(store, f"{reg.host}/pub:2")
        monkeypatch.setenv("DOCKER_CONFIG", str(reg.docker_config(tmp_path / "bad", password="nope")))
        with pytest.raises(AuthError, match="refused the credentials"):
            pull(store, f"{reg.host}/pub:1")


def test_corrupt_blob_on_the_registry_is_refused(plain_registry, store, tmp_path):
    (desc,) = skopeo_push_layout(plain_registry, tmp_path, "bad:1", [(HOST, [BASE])])
    layout_manifest = json.loads((tmp_path / "oci-bad_1" / "blobs" / "sha256" / dg.hex_of(desc["digest"])).read_bytes())
    layer = layout_manifest["layers"][0]["digest"]
    data = plain_registry.workdir / "data/docker/registry/v2/blobs/sha256" / dg.hex_of(layer)[:2] / dg.hex_of(layer) / "data"
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    data.write_bytes(bytes(blob))
    with pytest.raises(DigestMismatchError):
        pull(store, f"{plain_registry.host}/bad:1")
    assert store.list() == [] and store.layers.chain_ids() == [] and not store.blobs.has(layer)


def test_truncated_layer_among_good_ones_leaves_nothing(plain_registry, store, tmp_path):
    """Layers stream from the registry straight into the unpacker, several at once: one
    cut short makes the pull fail with nothing of any layer left in the store."""
    import random
    rng = random.Random(7)
    layers = [TarBuilder().file(f"l{n}/data", rng.randbytes(400_000)).file(f"l{n}/text", b"t\n" * 90_000)
              .bytes() for n in range(3)]
    (desc,) = skopeo_push_layout(plain_registry, tmp_path, "cut:1", [(HOST, layers)])
    layout_manifest = json.loads((tmp_path / "oci-cut_1" / "blobs" / "sha256" / dg.hex_of(desc["digest"])).read_bytes())
    middle = layout_manifest["layers"][1]["digest"]
    data = plain_registry.workdir / "data/docker/registry/v2/blobs/sha256" / dg.hex_of(middle)[:2] / \
        dg.hex_of(middle) / "data"
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])
    with pytest.raises(DigestMismatchError):
        pull(store, f"{plain_registry.host}/cut:1")
    assert store.list() == [] and store.layers.chain_ids() == [] and not store.blobs.has(middle)
    assert os.listdir(store.layers.root) == [] and os.listdir(store.blobs.root / "tmp") == []


def test_pull_by_digest_and_wrong_digest(plain_registry, store, tmp_path):
    (desc,) = skopeo_push_layout(plain_registry, tmp_path, "d:1", [(HOST, [BASE])])
    image = pull(store, f"{plain_registry.host}/d@{desc['digest']}")
    assert image.references == [] and image.repo_digests == [f"{plain_registry.host}/d@{desc['digest']}"]
    with pytest.raises(NotFoundError):
        pull(store, f"{plain_registry.host}/d@sha256:{'0' * 64}")


def test_docker_hub_names_go_to_the_mirror(tmp_path, store, monkeypatch):
    with LocalRegistry(tmp_path / "mirror") as mirror:
        skopeo_push_layout(mirror, tmp_path, "library/busybox:latest", [(HOST, [BASE])])
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
        settings = RegistrySettings(mirrors=[f"http://{mirror.host}"])
        image = pull(store, "busybox", settings=settings)
        assert image.references == ["docker.io/library/busybox:latest"]
        assert image.repo_digests[0].startswith("docker.io/library/busybox@sha256:")
        assert store.resolve("busybox").id == image.id


def test_missing_image_is_not_found(plain_registry, store):
    with pytest.raises(NotFoundError, match="not found"):
        pull(store, f"{plain_registry.host}/nothing:here")


@pytest.mark.parametrize("evil", [
    TarBuilder().symlink("x", "/tmp").file("x/stackup-pwned", b"!"),
    TarBuilder().file("../../../../tmp/stackup-pwned", b"!"),
    TarBuilder().hardlink("passwd", "/etc/passwd"),
], ids=["through symlink", "dotdot", "hardlink out"])
def test_malicious_layer_from_a_registry_is_refused(plain_registry, store, tmp_path, evil):
    from stackup.engine.images.errors import UnsafeLayerError

    skopeo_push_layout(plain_registry, tmp_path, "evil:1", [(HOST, [BASE, evil.bytes()])])
    with pytest.raises(UnsafeLayerError):
        pull(store, f"{plain_registry.host}/evil:1")
    assert not os.path.exists("/tmp/stackup-pwned")
    assert store.list() == [] and store.layers.chain_ids() == [] and list(store.blobs.digests()) == []


KILLED_PULL = """
import os, sys, time
from stackup.engine.images import unpack
from stackup.engine.images.pull import pull
from stackup.engine.images.store import ImageStore

entry, seen = unpack.LayerUnpacker._entry, []

def slow_entry(self, tar, member):
    entry(self, tar, member)
    seen.append(member.name)
    if len(seen) == 40:  # midway through the layer: tell the test, then wait to be killed
        open(sys.argv[2], "w").close()
        time.sleep(600)

unpack.LayerUnpacker._entry = slow_entry
pull(ImageStore(), sys.argv[1], parallel=1)
"""


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Wait until no process of the group is left but zombies."""
    def members() -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            with contextlib.suppress(OSError, ValueError):
                if entry.isdigit() and os.getpgid(int(entry)) == pgid and not gone(int(entry)):
                    pids.append(int(entry))
        return pids
    deadline = time.monotonic() + timeout
    while members() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not members()


def kill_pull_midway(registry, tmp_path, name: str, whole_group: bool) -> str:
    """Start a pull of a one-layer image in another process and SIGKILL it (with its layer
    process when `whole_group`) midway through unpacking; the reference."""
    builder = TarBuilder().dir("data")
    for i in range(100):
        builder.file(f"data/f{i}", b"%d" % i * 1000)
    skopeo_push_layout(registry, tmp_path, name, [(HOST, [builder.bytes()])])
    ref = f"{registry.host}/{name}"
    midway = tmp_path / "midway"
    child = subprocess.Popen([sys.executable, "-c", KILLED_PULL, ref, str(midway)],
                             env=dict(os.environ, PYTHONPATH=os.getcwd()), start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not midway.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert midway.exists(), "the child pull never reached the middle of its layer"
    finally:
        if whole_group:
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.send_signal(signal.SIGKILL)
        child.wait()
    assert wait_group_gone(child.pid, 10)
    return ref


def test_pull_whose_command_is_killed_leaves_no_process_and_no_temporary_files(plain_registry, store, tmp_path):
    """Only the command is killed (kill -9): its layer process ends with it and removes
    what it had begun."""
    kill_pull_midway(plain_registry, tmp_path, "orphaned:1", whole_group=False)
    assert [e.name for e in os.scandir(store.layers.root)] == []
    assert list((store.blobs.root / "tmp").iterdir()) == []


def test_pull_killed_midway_is_repaired_by_the_next_pull(plain_registry, store, tmp_path):
    # A crash (a power cut, the OOM killer) takes the layer processes too: leftovers stay.
    ref = kill_pull_midway(plain_registry, tmp_path, "killed:1", whole_group=True)
    layers = store.layers.root
    leftovers = [e.name for e in os.scandir(layers) if e.name.startswith(".tmp-")]
    assert leftovers and store.layers.chain_ids() == [] and store.list() == []
    # A torn layer directory (no marker) under the real name is never taken as the layer.
    (diff_id,) = json.loads(store.blobs.read(next(
        d for d in store.blobs.digests() if b"diff_ids" in store.blobs.read(d))))["rootfs"]["diff_ids"]
    torn = store.layers.dir(diff_id)
    (torn / "diff").mkdir(parents=True)
    (torn / "diff" / "half-written").write_bytes(b"x")
    assert not store.layers.has(diff_id)

    image = pull(store, ref)
    assert not [e.name for e in os.scandir(layers) if e.name.startswith((".tmp-", ".del-"))]
    assert not list((store.blobs.root / "tmp").iterdir())
    assert store.layers.has(diff_id) and image.layer_dirs() == [store.layers.path(diff_id)]
    assert signature(image.layer_dirs()[0]) == reference_trees(plain_registry, tmp_path, "killed:1")[0]


def test_pull_over_https_trusts_the_system_cas_and_ssl_cert_dir_and_file(tmp_path, store):
    """HTTPS with a CA the machine trusts: one added to $SSL_CERT_DIR (a hashed directory,
    read lazily) or named by $SSL_CERT_FILE. Without it, the pull fails in one line."""
    ca, cert, key = make_tls(tmp_path / "tls")
    trusted = tmp_path / "certs"
    trusted.mkdir()
    shutil.copy(ca, trusted / "test-ca.pem")
    subprocess.run(["openssl", "rehash", str(trusted)], check=True)
    with LocalRegistry(tmp_path / "registry", tls=(cert, key)) as reg:
        skopeo_push_layout(reg, tmp_path, "tls/busybox:1", [(HOST, [BASE])])
        base = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        for n, extra in enumerate(({"SSL_CERT_DIR": str(trusted)}, {"SSL_CERT_FILE": str(ca)}, {})):
            env = dict(base, STACKUP_ROOT=str(tmp_path / f"root{n}"), DOCKER_CONFIG=str(tmp_path / "none"), **extra)
            pulled = subprocess.run([sys.executable, "-m", "stackup", "--progress", "plain", "image", "pull",
                                     f"{reg.host}/tls/busybox:1"], env=env, capture_output=True, text=True)
            if extra:
                assert pulled.returncode == 0, pulled.stderr
            else:
                assert pulled.returncode != 0 and "Traceback" not in pulled.stderr
                assert "TLS certificate is not trusted" in pulled.stderr.strip().splitlines()[-1]
