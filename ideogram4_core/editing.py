"""Editing a picture: image → latent tokens, and what the pipeline needs for img2img, inpainting, outpainting
and re-rendering caption elements (an `Edit`).

The image is encoded with the FLUX.2 encoder's latent mean (deterministic), in tiles when the whole image does
not fit, and normalised with Ideogram's statistics. With a mask, sampling repaints only the masked tokens
(`sampling.masks.TokenMask`), and the decoded result is composited with the original outside the mask so the
VAE's small reconstruction error never touches kept pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import Ideogram4Error
from .models.vae import Flux2VAE
from .models.vae_tiling import encode_tiled
from .sampling.latents import token_grid, vae_to_tokens
from .sampling.masks import TokenMask, composite, token_mask
from .sampling.sampler import StartLatent, check_denoise
from .sampling.sizes import PIXELS_PER_TOKEN


@dataclass(frozen=True)
class Edit:
    """A picture to start from: `image` (1, H, W, 3) in [0, 1] at the output size; `mask` (1, H, W), 1 to
    repaint (None: img2img over the whole picture); `denoise` in (0, 1]; `composite` pastes the decoded
    result over the original only inside the mask; `differential` see `TokenMask`."""

    image: torch.Tensor
    mask: torch.Tensor | None = None
    denoise: float = 1.0
    differential: bool = False
    composite: bool = True

    def __post_init__(self) -> None:
        check_denoise(self.denoise)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[2], self.image.shape[1]

    def start(self, tokens: torch.Tensor) -> StartLatent:
        """The sampler's start from the encoded image's tokens."""
        mask = None
        if self.mask is not None:
            mask = TokenMask(token_mask(self.mask, token_grid(*self.size)), self.differential)
        return StartLatent(tokens, self.denoise, mask)

    def finish(self, images: torch.Tensor) -> torch.Tensor:
        """Decoded (B, H, W, 3) images in [0, 1] → the result (composited with the original when masked)."""
        if self.mask is None or not self.composite:
            return images
        return composite(self.image, images, self.mask)


def nearest_valid_size(width: int, height: int) -> tuple[int, int]:
    """The nearest (width, height) whose sides are positive multiples of 16 (halves round up)."""
    step = PIXELS_PER_TOKEN
    return tuple(max(step, (v + step // 2) // step * step) for v in (width, height))


def resize_image(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, H, W, C) in [0, 1] → (B, height, width, C), antialiased bicubic."""
    width, height = size
    if image.shape[1:3] == (height, width):
        return image
    x = F.interpolate(image.permute(0, 3, 1, 2), size=(height, width), mode="bicubic", antialias=True)
    return x.clamp(0.0, 1.0).permute(0, 2, 3, 1)


def fit_to_grid(image: torch.Tensor, how: str) -> torch.Tensor:
    """(B, H, W, C) → sides that are multiples of 16: "resize" to the nearest valid size, "crop" the centre."""
    height, width = image.shape[1:3]
    if how == "resize":
        return resize_image(image, nearest_valid_size(width, height))
    if how != "crop":
        raise ValueError(f"unknown fit {how!r}; use 'resize' or 'crop'")
    h, w = (max(PIXELS_PER_TOKEN, v // PIXELS_PER_TOKEN * PIXELS_PER_TOKEN) for v in (height, width))
    top, left = (height - h) // 2, (width - w) // 2
    return image[:, top : top + h, left : left + w]


def encode_image(vae: Flux2VAE, images: torch.Tensor, tiled: bool = False) -> torch.Tensor:
    """(B, H, W, 3) images in [0, 1], sides multiples of 16 → normalised latent tokens (B, H/16·W/16, 128).

    The latent distribution's mean, so the same picture always gives the same tokens. Encodes in tiles when
    asked or when the whole image runs out of device memory.
    """
    height, width = images.shape[1:3]
    if width % PIXELS_PER_TOKEN or height % PIXELS_PER_TOKEN:
        w, h = nearest_valid_size(width, height)
        raise Ideogram4Error(f"The image is {width}×{height}; sides must be multiples of 16: resize it to {w}×{h}.")
    x = images[..., :3].permute(0, 3, 1, 2) * 2.0 - 1.0
    if not tiled:
        try:
            with torch.inference_mode():
                return vae_to_tokens(vae.encode(x).float())
        except torch.OutOfMemoryError:
            pass
    return vae_to_tokens(encode_tiled(vae, x))
