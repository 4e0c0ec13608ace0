"""Qwen3-VL image preprocessing (the Qwen2-VL image processor's semantics): resize so both sides are multiples of
patch·merge with the pixel count within [min_pixels, max_pixels] (bicubic, PIL), rescale to [0, 1], normalise
with mean/std, and cut into flattened patches (channel, time, row, column) in merge-block order, the still image
repeated over the temporal patch. Torch and PIL only.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import Ideogram4Error, ModelFileError
from ..images import unit_to_pil

PREPROCESSOR_FILE = "preprocessor_config.json"
MAX_PIXELS = 1024 * 1024
"""Ceiling on the resized reference image (1024 image tokens at patch 16, merge 2), whatever the model folder
allows (Qwen3-VL-8B's own ceiling, 4096², would make a 16k-token prompt): it keeps an 8 B run within memory."""
MAX_ASPECT = 200


@dataclass(frozen=True)
class ImageProcessing:
    """Preprocessing settings; the defaults are Qwen3-VL-8B's (with `max_pixels` capped at MAX_PIXELS)."""

    patch_size: int = 16
    temporal_patch_size: int = 2
    merge_size: int = 2
    min_pixels: int = 256 * 256
    max_pixels: int = MAX_PIXELS
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    @classmethod
    def for_model(cls, folder: Path, patch_size: int, temporal_patch_size: int, merge_size: int) -> ImageProcessing:
        """The model's patch geometry, and the pixel range and mean/std of `preprocessor_config.json` in `folder`
        or its parent when there is one (else the defaults); a file stating another geometry is refused."""
        geometry = {"patch_size": patch_size, "temporal_patch_size": temporal_patch_size, "merge_size": merge_size}
        settings = dataclasses.replace(cls(), **geometry)
        for candidate in (folder / PREPROCESSOR_FILE, folder.parent / PREPROCESSOR_FILE):
            if candidate.is_file():
                return _from_file(candidate, settings)
        return settings

    @property
    def factor(self) -> int:
        """Both resized sides are multiples of this (one merged token's side in pixels)."""
        return self.patch_size * self.merge_size


def _from_file(file: Path, settings: ImageProcessing) -> ImageProcessing:
    try:
        stated = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{file} is not readable JSON ({exc}); download it again.") from None
    for key in ("patch_size", "temporal_patch_size", "merge_size"):
        if key in stated and stated[key] != getattr(settings, key):
            raise ModelFileError(
                f"{file} states {key} {stated[key]}, but the vision tower's config.json says "
                f"{getattr(settings, key)}: they belong to different models. Use the files of one Qwen3-VL release."
            )
    size: Mapping = stated.get("size") or {}
    min_pixels = stated.get("min_pixels", size.get("shortest_edge", settings.min_pixels))
    max_pixels = stated.get("max_pixels", size.get("longest_edge", settings.max_pixels))
    return dataclasses.replace(
        settings,
        min_pixels=int(min_pixels),
        max_pixels=min(int(max_pixels), MAX_PIXELS),
        mean=tuple(stated.get("image_mean", settings.mean)),
        std=tuple(stated.get("image_std", settings.std)),
    )


def smart_size(height: int, width: int, settings: ImageProcessing) -> tuple[int, int]:
    """(height, width) multiples of `settings.factor` closest to the image's, its pixel count brought into
    [min_pixels, max_pixels] at the same aspect ratio."""
    factor = settings.factor
    if max(height, width) > MAX_ASPECT * min(height, width):
        raise Ideogram4Error(
            f"The reference image is {width}×{height}, more than {MAX_ASPECT}:1; crop it to a less extreme shape."
        )
    new_h, new_w = round(height / factor) * factor, round(width / factor) * factor
    if new_h * new_w > settings.max_pixels:
        scale = math.sqrt(height * width / settings.max_pixels)
        new_h = max(factor, math.floor(height / scale / factor) * factor)
        new_w = max(factor, math.floor(width / scale / factor) * factor)
    elif new_h * new_w < settings.min_pixels:
        scale = math.sqrt(settings.min_pixels / (height * width))
        new_h = math.ceil(height * scale / factor) * factor
        new_w = math.ceil(width * scale / factor) * factor
    return new_h, new_w


def image_patches(image: torch.Tensor, settings: ImageProcessing) -> tuple[torch.Tensor, tuple[int, int]]:
    """(H, W, 3) RGB in [0, 1] → float32 patches (grid_h·grid_w, 3·temporal·patch²) and (grid_h, grid_w).

    The image is rounded to 8 bits first, as an image file would be (a PIL image converted with
    `images.pil_to_unit` comes back unchanged).
    """
    picture = unit_to_pil(image)
    height, width = smart_size(picture.height, picture.width, settings)
    resized = picture.resize((width, height), resample=Image.Resampling.BICUBIC)
    pixels = torch.from_numpy((np.asarray(resized, dtype=np.float64) * (1 / 255)).astype(np.float32))
    mean = torch.tensor(settings.mean, dtype=torch.float32)
    std = torch.tensor(settings.std, dtype=torch.float32)
    pixels = ((pixels - mean) / std).permute(2, 0, 1)  # (3, H, W)
    p, m, t = settings.patch_size, settings.merge_size, settings.temporal_patch_size
    grid_h, grid_w = height // p, width // p
    blocks = pixels.reshape(3, grid_h // m, m, p, grid_w // m, m, p).permute(1, 4, 2, 5, 0, 3, 6)
    patches = blocks.unsqueeze(5).expand(*blocks.shape[:5], t, p, p)  # (bh, bw, mh, mw, C, T, ph, pw)
    return patches.reshape(grid_h * grid_w, 3 * t * p * p), (grid_h, grid_w)
