"""The builder: Dockerfile -> image, on stackup's own engine (no Docker, no BuildKit daemon).

Above `images` (it reads and writes layers) and `runtime` (it runs RUN steps); they stay
independent of it. `build()` is the one entry point the project layer and the CLI use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackup.engine.build.model import BuildOptions, Progress
    from stackup.engine.images.store import Image


def build(options: BuildOptions, progress: Progress | None = None) -> Image:
    """Build the image `options` describe and tag it with `options.tags`."""
    from stackup.engine.build.builder import Builder

    return Builder(options, progress).run()
