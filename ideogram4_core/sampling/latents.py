"""Latent layouts (SPEC §5) and Ideogram's latent statistics.

Three layouts of the same numbers:
- tokens: (B, H/16 * W/16, 128), channel index (ph*2 + pw)*32 + c, normalised — what the transformer sees;
- ComfyUI LATENT: (B, 128, H/16, W/16), channel index c*4 + ph*2 + pw, normalised;
- VAE latent: (B, 32, H/8, W/8), de-normalised — what the FLUX.2 decoder takes.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import torch

from .sizes import PIXELS_PER_TOKEN

PATCH = 2
VAE_CHANNELS = 32
TOKEN_CHANNELS = VAE_CHANNELS * PATCH * PATCH


@cache
def _statistics() -> tuple[tuple[float, ...], tuple[float, ...]]:
    data = json.loads(resources.files(__package__.rpartition(".")[0]).joinpath("data/latent_norm.json").read_text())
    return tuple(data["shift"]), tuple(data["scale"])


def latent_statistics(device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Ideogram's per-token-channel (shift, scale), float32, token channel order."""
    shift, scale = _statistics()
    return torch.tensor(shift, device=device), torch.tensor(scale, device=device)


def token_grid(width: int, height: int) -> tuple[int, int]:
    return height // PIXELS_PER_TOKEN, width // PIXELS_PER_TOKEN


def tokens_to_vae(tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """De-normalise with Ideogram's statistics and un-patchify 2×2 into the VAE's 32 channels."""
    shift, scale = latent_statistics(tokens.device)
    z = tokens.float() * scale + shift
    b, (gh, gw) = z.shape[0], grid
    z = z.view(b, gh, gw, PATCH, PATCH, VAE_CHANNELS).permute(0, 5, 1, 3, 2, 4)
    return z.reshape(b, VAE_CHANNELS, gh * PATCH, gw * PATCH)


def vae_to_tokens(z: torch.Tensor) -> torch.Tensor:
    """The inverse of `tokens_to_vae`: VAE latent (B, 32, H/8, W/8) → normalised tokens (B, H/16·W/16, 128)."""
    b, c, h, w = z.shape
    if c != VAE_CHANNELS or h % PATCH or w % PATCH:
        raise ValueError(f"expected a (B, {VAE_CHANNELS}, H/8, W/8) latent with even sides, got {tuple(z.shape)}")
    patches = z.float().view(b, c, h // PATCH, PATCH, w // PATCH, PATCH).permute(0, 2, 4, 3, 5, 1)
    shift, scale = latent_statistics(z.device)
    return (patches.reshape(b, (h // PATCH) * (w // PATCH), TOKEN_CHANNELS) - shift) / scale


def tokens_to_comfy(tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(B, N, 128) in (ph, pw, c) order → ComfyUI's (B, 128, gh, gw) in (c, ph, pw) order."""
    b, (gh, gw) = tokens.shape[0], grid
    z = tokens.view(b, gh, gw, PATCH, PATCH, VAE_CHANNELS).permute(0, 5, 3, 4, 1, 2)
    return z.reshape(b, TOKEN_CHANNELS, gh, gw)


def comfy_to_tokens(latent: torch.Tensor) -> torch.Tensor:
    """ComfyUI's (B, 128, gh, gw) → tokens (B, gh*gw, 128)."""
    b, _, gh, gw = latent.shape
    z = latent.view(b, VAE_CHANNELS, PATCH, PATCH, gh, gw).permute(0, 4, 5, 2, 3, 1)
    return z.reshape(b, gh * gw, TOKEN_CHANNELS)
