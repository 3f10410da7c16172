"""Image references parse as Docker parses them."""

import pytest

from stackup.engine.images.reference import parse_reference
from stackup.errors import UserError

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("text, registry, repository, tag, digest, normalized", [
    ("busybox", "docker.io", "library/busybox", None, None, "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None, "docker.io/library/busybox:1.36"),
    ("user/app", "docker.io", "user/app", None, None, "docker.io/user/app:latest"),
    ("docker.io/busybox", "docker.io", "library/busybox", None, None, "docker.io/library/busybox:latest"),
    ("index.docker.io/user/app:v1", "docker.io", "user/app", "v1", None, "docker.io/user/app:v1"),
    ("localhost/app", "localhost", "app", None, None, "localhost/app:latest"),
    ("localhost:5000/x", "localhost:5000", "x", None, None, "localhost:5000/x:latest"),
    ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000", "a/b/c", "t", None, "127.0.0.1:5000/a/b/c:t"),
    ("ghcr.io/o/r@" + D, "ghcr.io", "o/r", None, D, "ghcr.io/o/r@" + D),
    ("quay.io/o/r:t@" + D, "quay.io", "o/r", "t", D, "quay.io/o/r:t@" + D),
    ("Registry.Example/x", "Registry.Example", "x", None, None, "Registry.Example/x:latest"),
    ("a__b-c---e/f_g.h", "docker.io", "a__b-c---e/f_g.h", None, None, "docker.io/a__b-c---e/f_g.h:latest"),
    ("localhost:5000", "docker.io", "library/localhost", "5000", None, "docker.io/library/localhost:5000"),
    ("[::1]:5000/x", "[::1]:5000", "x", None, None, "[::1]:5000/x:latest"),
])
def test_parses_like_docker(text, registry, repository, tag, digest, normalized):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ref.normalized() == normalized


@pytest.mark.parametrize("text", [
    "", "UPPER", "x/Upper", "a__b.c/x", "x:", "x::y", "x@sha256:abc", "-x", "x-", "a/-b", "x:tag with space",
    "x:" + "t" * 129, "a" * 64, "a..b", "a/b/", "/a", "x@md5", " busybox", "a" * 256,
    "local_host:5000/x", "a//b",
])
def test_malformed_references_are_user_errors(text):
    with pytest.raises(UserError):
        parse_reference(text)


def test_familiar_form_shortens_docker_hub_names():
    assert parse_reference("busybox").familiar() == "busybox:latest"
    assert parse_reference("user/app:1").familiar() == "user/app:1"
    assert parse_reference("localhost:5000/x").familiar() == "localhost:5000/x:latest"
