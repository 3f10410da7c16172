"""`kube generate --push REGISTRY`: each image the stack uses is tagged under the
registry and pushed with stackup's own push; the manifests then name it by digest
(`REGISTRY/NAME@sha256:…`), so the cluster runs exactly the image pushed."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stackup.engine.images.push import push
from stackup.engine.images.reference import parse_reference
from stackup.engine.images.store import ImageStore
from stackup.errors import UserError


def target_of(registry: str, image: str) -> str:
    """`busybox:1.36` pushed to `reg.example:5000/team` -> `reg.example:5000/team/busybox:1.36`."""
    ref = parse_reference(image)
    base = ref.repository.rsplit("/", 1)[-1]
    return f"{registry.rstrip('/')}/{base}:{ref.tag or 'latest'}"


def push_images(images: Iterable[str], registry: str, report: Callable[[str], None] = lambda _: None,
                store: ImageStore | None = None) -> dict[str, str]:
    """Image reference -> the digest reference it was pushed as."""
    if not registry or "@" in registry:
        raise UserError(f"--push {registry!r}: expected a registry and an optional path (host[:port][/path])")
    store = store or ImageStore()
    pushed: dict[str, str] = {}
    for image in sorted(set(images)):
        if not store.exists(image):
            raise UserError(f"--push: image {image} is not in the local store (pull or build it first)")
        target = target_of(registry, image)
        store.tag(image, target)
        report(f"Pushing {image} as {target}")
        digest = push(store, target)
        pushed[image] = parse_reference(target).with_digest(digest).familiar()
    return pushed
