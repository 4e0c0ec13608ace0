"""Masks for editing: pixel masks, their token-resolution form, and the rule that keeps tokens during sampling.

A mask is white (1) to repaint and black (0) to keep, soft values in between. Pixel masks are (B, H, W) float32
in [0, 1] at any size; `token_mask` resizes one to the image and averages it over each 16×16 token, giving
the per-token change strength the sampler honours (`TokenMask`). After every step, kept tokens are set back
to the input re-noised to the next noise level (standard mode blends by the strength; differential mode lets
a token change only from the step its strength allows). The last noise level is 0, so tokens with strength 0
end exactly at the input's encoding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import Ideogram4Error
from .sizes import PIXELS_PER_TOKEN

BBOX_SCALE = 1000  # caption boxes are [y_min, x_min, y_max, x_max] on 0..1000
Keeper = Callable[[torch.Tensor, int], torch.Tensor]  # (latent after a step, index of its σ) → latent


def as_batch(mask: torch.Tensor) -> torch.Tensor:
    """(H, W), (B, H, W) or (B, 1, H, W) → float32 (B, H, W)."""
    if mask.ndim == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if mask.ndim == 2:
        mask = mask[None]
    if mask.ndim != 3:
        raise Ideogram4Error(f"A mask must be (H, W) or (B, H, W); got shape {tuple(mask.shape)}.")
    return mask.float().clamp(0.0, 1.0)


def fit(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (B, H, W) mask to `size` = (width, height), bilinearly (masks of any size are accepted)."""
    width, height = size
    if mask.shape[-2:] == (height, width):
        return mask
    return F.interpolate(mask[:, None], size=(height, width), mode="bilinear", align_corners=False)[:, 0]


def grow(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate a (B, H, W) mask by `pixels` (a square neighbourhood); negative values shrink it."""
    if pixels == 0:
        return mask
    r = abs(pixels)
    pooled = F.max_pool2d((mask if pixels > 0 else -mask)[:, None], 2 * r + 1, stride=1, padding=r)[:, 0]
    return pooled if pixels > 0 else -pooled


def feather(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Soften a (B, H, W) mask's edges with a Gaussian blur of radius `pixels` (σ = radius / 2)."""
    if pixels <= 0:
        return mask
    offsets = torch.arange(-pixels, pixels + 1, dtype=torch.float32, device=mask.device)
    kernel = torch.exp(-0.5 * (offsets / (pixels / 2)) ** 2)
    kernel = kernel / kernel.sum()
    x = F.pad(mask[:, None], (pixels, pixels, pixels, pixels), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))[:, 0].clamp(0.0, 1.0)


def token_mask(mask: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """A pixel mask of any size → per-token strengths (B, gh·gw): its average over each 16×16 token."""
    gh, gw = grid
    pixels = fit(as_batch(mask), (gw * PIXELS_PER_TOKEN, gh * PIXELS_PER_TOKEN))
    return F.avg_pool2d(pixels[:, None], PIXELS_PER_TOKEN)[:, 0].flatten(1)


def box_mask(boxes: Sequence[Sequence[int]], size: tuple[int, int], margin: int = 0) -> torch.Tensor:
    """(1, H, W) mask that is 1 inside each caption box ([y_min, x_min, y_max, x_max], 0..1000) widened by
    `margin` pixels on every side, clipped to the image."""
    width, height = size
    mask = torch.zeros(1, height, width)
    for y0, x0, y1, x1 in boxes:
        top = max(0, math.floor(y0 * height / BBOX_SCALE) - margin)
        left = max(0, math.floor(x0 * width / BBOX_SCALE) - margin)
        bottom = min(height, math.ceil(y1 * height / BBOX_SCALE) + margin)
        right = min(width, math.ceil(x1 * width / BBOX_SCALE) + margin)
        mask[0, top:bottom, left:right] = 1.0
    return mask


def outpaint_canvas(
    image: torch.Tensor, left: int, top: int, right: int, bottom: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Enlarge (B, H, W, C) images by the given pixels per side; (canvas, mask that is 1 on the new area).

    The new area repeats the nearest edge pixels, a neutral start that keeps colours continuous.
    """
    if min(left, top, right, bottom) < 0 or not any((left, top, right, bottom)):
        raise Ideogram4Error(
            f"Outpaint sizes must be at least 0 and not all 0 (got {left},{top},{right},{bottom}); give "
            "LEFT,TOP,RIGHT,BOTTOM in pixels, e.g. 0,0,256,0."
        )
    canvas = F.pad(image.permute(0, 3, 1, 2), (left, right, top, bottom), mode="replicate").permute(0, 2, 3, 1)
    h, w = canvas.shape[1:3]
    mask = torch.ones(1, h, w)
    mask[:, top : h - bottom, left : w - right] = 0.0
    return canvas, mask


def composite(original: torch.Tensor, generated: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, H, W, C) images: `generated` where the (1 or B, H, W) mask is 1, `original` where it is 0."""
    m = fit(as_batch(mask), (generated.shape[2], generated.shape[1])).to(generated.device)[..., None]
    return original.to(generated) * (1.0 - m) + generated * m


@dataclass(frozen=True)
class TokenMask:
    """Per-token change strength (1 or B, N) in [0, 1]: 0 keeps the input, 1 repaints freely.

    `differential`: instead of blending, a token of strength s may change only during the last ⌈s·n⌉ of the
    n steps that run (differential diffusion); before that it follows the re-noised input.
    """

    values: torch.Tensor
    differential: bool = False

    def keeper(self, x0: torch.Tensor, noise: torch.Tensor, sig: torch.Tensor, first: int) -> Keeper:
        """The function the sampler applies after each step: `keep(x, i)` with x at noise level σ_i."""
        m = self.values.to(device=x0.device, dtype=torch.float32).unsqueeze(-1)
        steps = len(sig) - 1 - first
        # Step (0-based, counted from `first`) from which each token may change; strength 0 never changes.
        start = torch.ceil((1.0 - m) * steps - 1e-6)

        def keep(x: torch.Tensor, i: int) -> torch.Tensor:
            renoised = (1.0 - sig[i]) * x0 + sig[i] * noise
            if self.differential:
                return torch.where(start <= i - 1 - first, x, renoised)
            return m * x + (1.0 - m) * renoised

        return keep
