"""Reading pictures and masks from disk for editing: every common mode becomes RGB or a [0, 1] mask.

CMYK, palette, 16-bit, 32-bit and grey images are converted, never refused. An image's alpha channel (RGBA,
LA, or a palette's transparency) is returned separately: it can serve as the mask. Masks are white to
repaint and black to keep; a mask file with transparency uses it (transparent = repaint, the way ComfyUI's
mask editor saves a painted area).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import Ideogram4Error

# PIL refuses images above twice this many pixels as a possible decompression bomb; the largest Ideogram 4
# image is 2048² and tiling handles more, so allow generous sizes but keep a ceiling (about 16k × 16k).
MAX_PIXELS = 1 << 28
Image.MAX_IMAGE_PIXELS = None  # the check below gives the clearer message


@dataclass(frozen=True)
class Picture:
    """An image as (H, W, 3) float32 in [0, 1], and its alpha as (H, W) in [0, 1] when it has one."""

    rgb: torch.Tensor
    alpha: torch.Tensor | None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


def _open(path: Path, what: str) -> Image.Image:
    try:
        image = Image.open(path)
        if image.width * image.height > MAX_PIXELS:
            raise Ideogram4Error(
                f"The {what} {path} is {image.width}×{image.height}, too large to edit; scale it down to at most "
                "2048 pixels per side first."
            )
        image.load()
    except FileNotFoundError:
        raise Ideogram4Error(f"The {what} {path} does not exist; check the path.") from None
    except UnidentifiedImageError:
        raise Ideogram4Error(f"The {what} {path} is not an image PIL can read; give a PNG, JPEG or WebP.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Ideogram4Error(f"The {what} {path} is damaged or truncated ({exc}); export it again.") from None
    return image


def _unit(array: np.ndarray) -> np.ndarray:
    """Integer or float pixel values to float32 in [0, 1] by their type's range (16-bit stays exact)."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if np.issubdtype(array.dtype, np.integer):  # PIL's I;16 and I modes: 16-bit files
        return np.clip(array.astype(np.float32) / 65535.0, 0.0, 1.0)
    return np.clip(array.astype(np.float32), 0.0, 1.0)


def _channels(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) colour and (H, W) alpha or None, in [0, 1], from any PIL mode."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = _unit(np.asarray(image))
        return np.repeat(grey[..., None], 3, axis=2), None
    alpha = None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = _unit(np.asarray(image.getchannel("A")))
    return _unit(np.asarray(image.convert("RGB"))), alpha


def load_picture(path: str | Path) -> Picture:
    """The image at `path` as RGB in [0, 1] (any mode converted) and its alpha, if any."""
    rgb, alpha = _channels(_open(Path(path), "image"))
    return Picture(torch.from_numpy(rgb), None if alpha is None else torch.from_numpy(alpha))


def load_mask(path: str | Path) -> torch.Tensor:
    """The mask at `path` as (H, W) float32 in [0, 1]: 1 repaints, 0 keeps.

    A file with transparency is read by its alpha (transparent = repaint); otherwise by its brightness.
    """
    rgb, alpha = _channels(_open(Path(path), "mask"))
    if alpha is not None and alpha.min() < 1.0:
        return torch.from_numpy(1.0 - alpha)
    return torch.from_numpy(rgb.mean(axis=2))
