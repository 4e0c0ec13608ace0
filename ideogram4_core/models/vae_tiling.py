"""Tiled FLUX.2 decoding for images whose full decode does not fit in memory.

The VAE latent is cut into overlapping tiles; each tile is decoded on its own and the images are
cross-faded linearly across each overlap. One tile covering the whole latent gives the plain decode exactly.
The decoder's mid attention and GroupNorms see only their tile, so small tiles are close, not exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .vae import Flux2VAE, VAEConfig

DEFAULT_TILE, DEFAULT_OVERLAP = 64, 8  # latent pixels: 512-pixel tiles, 64-pixel overlaps
# Live full-resolution tensors at the decoder's peak (upsample + first ResBlock hold about 2.5 tensors of the
# widest full-resolution channel count), rounded up for allocator slack.
_LIVE_TENSORS = 4

TileCallback = Callable[[int, int], None]  # tiles done, tiles in all


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size `tile` covering `length`, spread evenly, overlapping by at least `overlap`."""
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap {overlap} must be at least 0 and smaller than the tile {tile}.")
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _ramp(starts: list[int], index: int, size: int, scale: int) -> torch.Tensor:
    """Blend weights (size·scale,) of one tile along one axis: linear cross-fades over each neighbour overlap."""
    weights = torch.ones(size * scale)
    if index > 0:
        fade = (starts[index - 1] + size - starts[index]) * scale
        weights[:fade] = (torch.arange(fade) + 0.5) / fade
    if index < len(starts) - 1:
        fade = (starts[index] + size - starts[index + 1]) * scale
        weights[-fade:] = weights[-fade:].minimum((torch.arange(fade).flip(0) + 0.5) / fade)
    return weights


def decode_tiled(
    vae: Flux2VAE,
    z: torch.Tensor,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    on_tile: TileCallback | None = None,
    out_device: torch.device | str | None = None,
) -> torch.Tensor:
    """VAE latent (B, 32, h, w) → float32 image (B, 3, h·f, w·f) in about [−1, 1], decoded tile by tile.

    `on_tile(done, total)` runs after every tile (progress, interrupt); the result is assembled on `out_device`
    (default: the latent's device).
    """
    b, _, h, w = z.shape
    f = vae.downscale
    rows, cols = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    out_device = z.device if out_device is None else out_device
    out = torch.zeros(b, vae.config.image_channels, h * f, w * f, device=out_device)
    total = torch.zeros(1, 1, h * f, w * f, device=out_device)
    with torch.inference_mode():
        for i, top in enumerate(rows):
            for j, left in enumerate(cols):
                image = vae.decode(z[:, :, top : top + th, left : left + tw]).to(out_device, torch.float32)
                weight = torch.outer(_ramp(rows, i, th, f), _ramp(cols, j, tw, f)).to(out_device)
                region = (..., slice(top * f, (top + th) * f), slice(left * f, (left + tw) * f))
                out[region] += image * weight
                total[region] += weight
                if on_tile is not None:
                    on_tile(i * len(cols) + j + 1, len(rows) * len(cols))
    return out / total


def tile_count(latent_hw: tuple[int, int], tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP) -> int:
    """How many tiles `decode_tiled` decodes for a latent of this (h, w)."""
    return len(tile_starts(latent_hw[0], tile, overlap)) * len(tile_starts(latent_hw[1], tile, overlap))


def decode_memory_bytes(config: VAEConfig, latent_hw: tuple[int, int], dtype: torch.dtype, batch: int = 1) -> int:
    """Rough peak working memory of one plain decode: activations at full resolution dominate."""
    scale = 2 ** (len(config.decoder_channels) - 1)
    pixels = latent_hw[0] * latent_hw[1] * scale * scale
    widest = max(config.decoder_channels[:2])
    element = torch.tensor([], dtype=dtype).element_size()
    return batch * pixels * widest * _LIVE_TENSORS * element
