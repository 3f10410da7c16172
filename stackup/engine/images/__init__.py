"""The engine's images: content store, layers, registry client, archives, safe unpacking.

Usable alone as a library:

    from stackup.engine.images import ImageStore
    image = ImageStore().resolve("busybox")
    image.layer_dirs()   # base first
"""

from stackup.engine.images.config import ImageConfig
from stackup.engine.images.reference import Reference, parse_reference
from stackup.engine.images.store import Image, ImageStore

__all__ = ["Image", "ImageConfig", "ImageStore", "Reference", "parse_reference"]
