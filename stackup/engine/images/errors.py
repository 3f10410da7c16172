"""Failures of the image layer, each meant to reach the user as one clear line."""

from __future__ import annotations

from stackup.errors import StackupError, UserError


class ImageError(StackupError):
    """An image could not be fetched, stored or unpacked (corrupt data, registry refusal...)."""


class DigestMismatchError(ImageError):
    """Content does not hash to the digest that names it."""


class UnsafeLayerError(UserError):
    """A layer tries to write outside its directory or is otherwise malformed."""


class RegistryError(ImageError):
    """A registry answered with an error (or could not be reached)."""


class AuthError(RegistryError):
    """A registry refused our credentials, or wanted some we do not have."""
