"""Differential tests: each case under cases/ is built by Docker's own builder
(`DOCKER_BUILDKIT=1 docker build` on a private dockerd) and by stackup's, from the same
busybox base (the same rootfs tar, imported into both with the same CMD), and the two
images must agree: the flattened file trees (paths, types, modes, owners, sizes,
contents, symlink targets, hard links; whiteouts applied; no mtimes) and the config.

The Docker side is also checked against the few facts each case's `expect` states, so a
case tests what it says it tests. Cases under stackup_only/ use what Debian's BuildKit
refuses offline (heredocs, `# syntax=`, RUN --network, COPY --link/--parents/--exclude):
they are checked against their `expect` alone.

The stackup side skips, saying so, while stackup.engine.build has no builder.
"""

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

from stackup.engine.images.store import ImageStore
from stackup.testing import builds, peers
from stackup.testing.containers import leftovers
from stackup.testing.images import BUSYBOX_CHANGES, BUSYBOX_REF, busybox_rootfs_tar
from stackup.testing.rootfs import BUSYBOX

pytestmark = pytest.mark.root

HERE = Path(__file__).parent
CASES = builds.load_cases(HERE / "cases")
STACKUP_ONLY = builds.load_cases(HERE / "stackup_only")

if os.geteuid() != 0:
    pytest.skip("needs root (a private dockerd, stackup's runtime)", allow_module_level=True)
if not BUSYBOX.exists():
    pytest.skip("busybox-static missing", allow_module_level=True)


def builder_missing() -> str | None:
    if importlib.util.find_spec("stackup.engine.build.builder") is None:
        return "stackup's builder (stackup.engine.build.builder) is not there yet"
    return None


@pytest.fixture(scope="module")
def work():
    with tempfile.TemporaryDirectory(prefix="stackup-differential-") as tmp:
        folder = Path(tmp)
        busybox_rootfs_tar(folder)
        yield folder


@pytest.fixture(scope="module")
def docker(work):
    """A private dockerd with the busybox base imported, or a skip saying why not."""
    manager = peers.dockerd(work / "docker")
    try:
        peer = manager.__enter__()
    except peers.PeerUnavailable as exc:
        pytest.skip(f"dockerd: {exc}")
    try:
        builds.docker_import(peer, work / "rootfs.tar", BUSYBOX_REF, BUSYBOX_CHANGES)
        yield peer
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="module")
def docker_built(docker, work):
    """case name -> Docker's result, each case built once for the module."""
    done: dict[str, builds.Built] = {}

    def get(case: builds.Case) -> builds.Built:
        if case.name not in done:
            context = builds.make_context(case, work / "docker-ctx" / case.name)
            done[case.name] = builds.docker_build_case(docker, case, context,
                                                       f"stackup.local/diff-{case.name}:1")
        return done[case.name]

    return get


@pytest.fixture(scope="module")
def stackup_root(work):
    """A stackup root of the module's own (STACKUP_ROOT) with the same busybox base."""
    root = work / "stackup"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STACKUP_ROOT", str(root))
        store = ImageStore(root / "images")
        store.import_rootfs(work / "rootfs.tar", BUSYBOX_REF, list(BUSYBOX_CHANGES))
        yield store
        assert builds.mounts_under(root) == [], "a build left mounts behind"
        assert leftovers(root) == [], "a build left containers behind"


@pytest.fixture(scope="module")
def stackup_store(stackup_root):
    reason = builder_missing()
    if reason:
        pytest.skip(reason)
    return stackup_root


def stackup_built(store, case, work) -> builds.Built:
    context = builds.make_context(case, work / "stackup-ctx" / case.name)
    image = builds.stackup_build_case(case, context, f"stackup.local/diff-{case.name}:1")
    return builds.stackup_image(store, image)


def test_enough_cases_cover_the_builder():
    assert len(CASES) >= 25
    assert all(case.doc for case in CASES + STACKUP_ONLY), "every case says what it covers"


def test_both_builders_start_from_the_same_base(docker, stackup_root, work):
    """The base image imported into both reads back as the same tree and config, so a
    difference in a case is the builders'."""
    theirs = builds.docker_image(docker, BUSYBOX_REF, work / "base.docker.tar")
    ours = builds.stackup_image(stackup_root, stackup_root.resolve(BUSYBOX_REF))
    assert builds.differences(theirs, ours) == []
    assert theirs.tree["bin/busybox"].size > 0 and theirs.config["Cmd"] == ["/bin/sh"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_docker_builds_case_as_expected(case, docker_built):
    """The reference is what the case means it to be (the harness reads it right)."""
    assert builds.unmet_expectations(case, docker_built(case)) == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_stackup_builds_case_as_docker_does(case, docker_built, stackup_store, work):
    docker = docker_built(case)
    mine = stackup_built(stackup_store, case, work)
    assert builds.differences(docker, mine, case.mount_stubs) == []


@pytest.mark.parametrize("case", STACKUP_ONLY, ids=[c.name for c in STACKUP_ONLY])
def test_stackup_only_case_as_expected(case, stackup_store, work):
    assert case.expect, "a stackup-only case has nothing else to be checked against"
    assert builds.unmet_expectations(case, stackup_built(stackup_store, case, work)) == []
