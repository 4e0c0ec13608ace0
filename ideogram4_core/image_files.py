"""Reading pictures and masks from disk for editing, and a reference image sent as a data URL (the caption
builder's Magic Prompt): every common mode becomes RGB or a [0, 1] mask.

CMYK, palette, 16-bit, 32-bit and grey images are converted, never refused. An image's alpha channel (RGBA,
LA, or a palette's transparency) is returned separately: it can serve as the mask. Masks are white to
repaint and black to keep; a mask file with transparency uses it (transparent = repaint, the way ComfyUI's
mask editor saves a painted area).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import Ideogram4Error

# PIL refuses images above twice this many pixels as a possible decompression bomb; the largest Ideogram 4
# image is 2048² and tiling handles more, so allow generous sizes but keep a ceiling (about 16k × 16k).
MAX_PIXELS = 1 << 28
Image.MAX_IMAGE_PIXELS = None  # the check below gives the clearer message
EDIT_SIZE_ADVICE = "to edit; scale it down to at most 2048 pixels per side first"
# A data URL's decoded file and picture: generous next to the builder's ≤ 1024-pixel re-encode, small enough that
# a request cannot hold gigabytes (the vision tower scales every image to ≤ 1024² pixels' worth anyway).
DATA_URL_TYPES = ("image/png", "image/jpeg", "image/webp")
MAX_DATA_URL_BYTES = 16 << 20
MAX_DATA_URL_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class Picture:
    """An image as (H, W, 3) float32 in [0, 1], and its alpha as (H, W) in [0, 1] when it has one."""

    rgb: torch.Tensor
    alpha: torch.Tensor | None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


def _open(source: Path | BinaryIO, label: str, max_pixels: int, advice: str) -> Image.Image:
    """The picture `label` names, read fully; refused before decoding above `max_pixels` (`advice` says what to do)."""
    try:
        image = Image.open(source)
        if image.width * image.height > max_pixels:
            raise Ideogram4Error(f"The {label} is {image.width}×{image.height}, too large {advice}.")
        image.load()
    except Ideogram4Error:  # the size check above (a ValueError too): not "damaged"
        raise
    except FileNotFoundError:
        raise Ideogram4Error(f"The {label} does not exist; check the path.") from None
    except UnidentifiedImageError:
        raise Ideogram4Error(f"The {label} is not an image PIL can read; give a PNG, JPEG or WebP.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Ideogram4Error(f"The {label} is damaged or truncated ({exc}); export it again.") from None
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
    rgb, alpha = _channels(_open(Path(path), f"image {path}", MAX_PIXELS, EDIT_SIZE_ADVICE))
    return Picture(torch.from_numpy(rgb), None if alpha is None else torch.from_numpy(alpha))


def _data_url_bytes(url: str, what: str) -> bytes:
    """The file inside a ``data:image/png|jpeg|webp;base64,…`` URL, refused when it is another kind or too large."""
    header, comma, payload = url.partition(",")
    header = header.lower()  # media types are case-insensitive
    kind = header.removeprefix("data:").removesuffix(";base64")
    if not (comma and header == f"data:{kind};base64" and kind in DATA_URL_TYPES):
        raise Ideogram4Error(
            f'The {what} must be a base64 data URL of a PNG, JPEG or WebP ("data:image/png;base64,…"); it starts '
            f"with {url[:32]!r}."
        )
    size = len(payload) * 3 // 4
    if size > MAX_DATA_URL_BYTES:
        raise Ideogram4Error(
            f"The {what} is {size / 2**20:.1f} MB, over the {MAX_DATA_URL_BYTES >> 20} MB limit; scale it down "
            "(1024 pixels on the longest side is plenty) or save it as JPEG."
        )
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise Ideogram4Error(f"The {what}'s base64 data is broken ({exc}); send the image again.") from None


def load_data_url(url: str, what: str = "reference image") -> Picture:
    """The picture in a base64 PNG, JPEG or WebP data URL, as RGB in [0, 1] and its alpha, if any; one clear
    message naming `what` when the URL is of another kind, over MAX_DATA_URL_BYTES or MAX_DATA_URL_PIXELS, or
    undecodable."""
    source = BytesIO(_data_url_bytes(url, what))
    advice = "to describe; scale it down to at most 4096×4096 pixels first"
    rgb, alpha = _channels(_open(source, f"{what} (data URL)", MAX_DATA_URL_PIXELS, advice))
    return Picture(torch.from_numpy(rgb), None if alpha is None else torch.from_numpy(alpha))


def load_mask(path: str | Path) -> torch.Tensor:
    """The mask at `path` as (H, W) float32 in [0, 1]: 1 repaints, 0 keeps.

    A file with transparency is read by its alpha (transparent = repaint); otherwise by its brightness.
    """
    rgb, alpha = _channels(_open(Path(path), f"mask {path}", MAX_PIXELS, EDIT_SIZE_ADVICE))
    if alpha is not None and alpha.min() < 1.0:
        return torch.from_numpy(1.0 - alpha)
    return torch.from_numpy(rgb.mean(axis=2))
