"""Tiled FLUX.2 decoding and encoding for images whose whole pass does not fit in memory.

The work is cut into overlapping tiles on the latent grid; each tile is decoded (or encoded) on its own and
the results are cross-faded linearly across each overlap. One tile covering the whole latent gives the plain
pass exactly. The mid attention and GroupNorms see only their tile, so small tiles are close, not exact.
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


def _tiled(
    apply: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    grid_hw: tuple[int, int],
    scales: tuple[int, int],
    out_channels: int,
    tile: int,
    overlap: int,
    on_tile: TileCallback | None,
    out_device: torch.device | str | None,
) -> torch.Tensor:
    """Run `apply` tile by tile over `x` and cross-fade the results; tiles are laid out on the latent grid
    `grid_hw`, and `scales` = (input, output) pixels per latent pixel."""
    (h, w), (s_in, s_out) = grid_hw, scales
    rows, cols = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    out_device = x.device if out_device is None else out_device
    out = torch.zeros(x.shape[0], out_channels, h * s_out, w * s_out, device=out_device)
    total = torch.zeros(1, 1, h * s_out, w * s_out, device=out_device)
    with torch.inference_mode():
        for i, top in enumerate(rows):
            for j, left in enumerate(cols):
                piece = x[:, :, top * s_in : (top + th) * s_in, left * s_in : (left + tw) * s_in]
                result = apply(piece).to(out_device, torch.float32)
                weight = torch.outer(_ramp(rows, i, th, s_out), _ramp(cols, j, tw, s_out)).to(out_device)
                region = (..., slice(top * s_out, (top + th) * s_out), slice(left * s_out, (left + tw) * s_out))
                out[region] += result * weight
                total[region] += weight
                if on_tile is not None:
                    on_tile(i * len(cols) + j + 1, len(rows) * len(cols))
    return out / total


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
    scales = (1, vae.downscale)
    return _tiled(vae.decode, z, z.shape[2:], scales, vae.config.image_channels, tile, overlap, on_tile, out_device)


def encode_tiled(
    vae: Flux2VAE,
    images: torch.Tensor,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    on_tile: TileCallback | None = None,
    out_device: torch.device | str | None = None,
) -> torch.Tensor:
    """Images (B, 3, H, W) in [−1, 1], sides multiples of 8 → float32 latent mean (B, 32, H/8, W/8), encoded
    tile by tile (`tile` and `overlap` in latent pixels, as for decoding)."""
    f = vae.downscale
    grid = (images.shape[2] // f, images.shape[3] // f)
    return _tiled(vae.encode, images, grid, (f, 1), vae.config.latent_channels, tile, overlap, on_tile, out_device)


def tile_count(latent_hw: tuple[int, int], tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP) -> int:
    """How many tiles `decode_tiled` decodes for a latent of this (h, w)."""
    return len(tile_starts(latent_hw[0], tile, overlap)) * len(tile_starts(latent_hw[1], tile, overlap))


def _memory_bytes(channels: tuple[int, ...], latent_hw: tuple[int, int], dtype: torch.dtype, batch: int) -> int:
    scale = 2 ** (len(channels) - 1)
    pixels = latent_hw[0] * latent_hw[1] * scale * scale
    element = torch.tensor([], dtype=dtype).element_size()
    return batch * pixels * max(channels[:2]) * _LIVE_TENSORS * element


def decode_memory_bytes(config: VAEConfig, latent_hw: tuple[int, int], dtype: torch.dtype, batch: int = 1) -> int:
    """Rough peak working memory of one plain decode: activations at full resolution dominate."""
    return _memory_bytes(config.decoder_channels, latent_hw, dtype, batch)


def encode_memory_bytes(config: VAEConfig, latent_hw: tuple[int, int], dtype: torch.dtype, batch: int = 1) -> int:
    """Rough peak working memory of one plain encode (full-resolution activations of the first levels)."""
    return _memory_bytes(config.encoder_channels or config.decoder_channels, latent_hw, dtype, batch)
