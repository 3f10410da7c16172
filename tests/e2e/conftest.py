"""The fixtures the stack end-to-end tests share: `stack`, a CLI for the compose.yaml
beside the test with a root of its own, taken down afterwards, and `busybox_cache`."""

from stackup.testing.stack import busybox_cache, stack  # noqa: F401 - fixtures, found by name
