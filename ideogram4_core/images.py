"""Image value conversions shared by the CLI pipeline and the ComfyUI nodes."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .errors import Ideogram4Error


def decoded_to_unit(image: torch.Tensor) -> torch.Tensor:
    """VAE output in [-1, 1] → float32 in [0, 1] (the reference's post-processing)."""
    return (image.float() / 2 + 0.5).clamp(0, 1)


def unit_to_pil(image: torch.Tensor) -> Image.Image:
    """(H, W, 3) in [0, 1] → 8-bit RGB, rounded to nearest."""
    return Image.fromarray((image.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy())


def pil_to_unit(image: Image.Image) -> torch.Tensor:
    """8-bit RGB → (H, W, 3) float32 in [0, 1]."""
    return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)


def first_image(batch: torch.Tensor) -> torch.Tensor:
    """The first (H, W, 3) image of a ComfyUI IMAGE batch (B, H, W, C) in [0, 1], alpha dropped, grey expanded."""
    if batch.ndim != 4 or batch.shape[0] == 0 or batch.shape[-1] not in (1, 3, 4):
        raise Ideogram4Error(f"Expected an IMAGE batch (B, H, W, C) with 1, 3 or 4 channels; got {tuple(batch.shape)}.")
    image = batch[0].float().cpu()
    return image.expand(*image.shape[:2], 3) if image.shape[-1] == 1 else image[..., :3]
