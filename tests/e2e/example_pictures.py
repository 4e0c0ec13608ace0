"""The pictures the editing example workflows load (their Load Image names are in `workflow_specs.py`), written
into a ComfyUI input folder for the e2e runs and for `tools/render_thumbnails.py`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .workflow_specs import PICTURE, POSTER_PICTURE, TRANSPARENT_PICTURE

SIZE = 256  # every run: the smallest size, quick on the CPU; the editing examples' pictures have it too
HOLE = (slice(96, 160), slice(64, 192))  # rows, columns of the masked picture's transparent area


def example_picture(seed: int) -> Image.Image:
    """A SIZE×SIZE RGB picture with gradients and shapes (edges that a blurred result would not reproduce)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, SIZE, dtype=np.float32)
    pixels = np.stack([ramp[None, :].repeat(SIZE, 0), ramp[:, None].repeat(SIZE, 1), np.full((SIZE, SIZE), 96.0)])
    picture = Image.fromarray(pixels.transpose(1, 2, 0).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(6):
        x, y = rng.integers(0, SIZE - 64, 2)
        draw.ellipse((x, y, x + 64, y + 48), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return picture


@contextlib.contextmanager
def placed_pictures(folder: Path) -> Iterator[dict[str, Image.Image]]:
    """The editing examples' pictures in `folder` (the masked one transparent over HOLE) while the context lasts;
    yields {file name: picture}."""
    masked = example_picture(0).convert("RGBA")
    alpha = np.full((SIZE, SIZE), 255, np.uint8)
    alpha[HOLE] = 0
    masked.putalpha(Image.fromarray(alpha))
    files = {PICTURE: example_picture(0), POSTER_PICTURE: example_picture(1), TRANSPARENT_PICTURE: masked}
    for name, picture in files.items():
        picture.save(folder / name)
    try:
        yield files
    finally:
        for name in files:
            (folder / name).unlink()
