"""Image value conversions shared by the CLI pipeline and the ComfyUI nodes."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def decoded_to_unit(image: torch.Tensor) -> torch.Tensor:
    """VAE output in [-1, 1] → float32 in [0, 1] (the reference's post-processing)."""
    return (image.float() / 2 + 0.5).clamp(0, 1)


def unit_to_pil(image: torch.Tensor) -> Image.Image:
    """(H, W, 3) in [0, 1] → 8-bit RGB, rounded to nearest."""
    return Image.fromarray((image.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy())


def pil_to_unit(image: Image.Image) -> torch.Tensor:
    """8-bit RGB → (H, W, 3) float32 in [0, 1]."""
    return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)
