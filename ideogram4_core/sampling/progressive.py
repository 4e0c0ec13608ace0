"""Progressive resolution (opt-in fast mode): the first steps run at half the token grid, the rest at full size.

The schedule is the full-size one throughout. The seed's full-size noise is average-pooled 2×2 (×2, so it stays
unit-variance) for the low-resolution phase. After its last step the predicted clean latent is resized to full
size in the VAE's de-normalised space and re-noised at the next step's σ with the seed's full-size noise, which
is exactly an image-to-image start (`StartLatent`) for the remaining steps. A low-resolution step costs about a
quarter of a full one (plus the caption rows), so running a fraction f of the steps there saves ≈ ¾·f of the
image work. Not exact; the fidelity cost is measured in the README.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..models.transformer import Ideogram4Transformer
from . import schedule
from .latents import PATCH, TOKEN_CHANNELS, VAE_CHANNELS, latent_statistics, tokens_to_vae
from .sampler import StartLatent, StepCallback, sample
from .schedule import SamplingSettings


def low_resolution_steps(settings: SamplingSettings, fraction: float) -> int:
    """How many leading steps run at half resolution (at least one full-size step always remains)."""
    return min(round(settings.steps * fraction), settings.steps - 1)


def pool_noise(noise: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Full-size token noise (B, gh·gw, 128) → half-grid noise, still standard normal per element."""
    b, (gh, gw) = noise.shape[0], grid
    image = noise.view(b, gh, gw, TOKEN_CHANNELS).permute(0, 3, 1, 2)
    pooled = F.avg_pool2d(image, 2) * 2.0
    return pooled.permute(0, 2, 3, 1).reshape(b, -1, TOKEN_CHANNELS)


def resize_tokens(tokens: torch.Tensor, grid: tuple[int, int], target: tuple[int, int]) -> torch.Tensor:
    """Resize normalised tokens from `grid` to `target` (bicubic, in the de-normalised VAE latent space)."""
    latent = tokens_to_vae(tokens, grid)
    latent = F.interpolate(latent, size=(target[0] * PATCH, target[1] * PATCH), mode="bicubic", align_corners=False)
    b, (gh, gw) = latent.shape[0], target
    z = latent.view(b, VAE_CHANNELS, gh, PATCH, gw, PATCH).permute(0, 2, 4, 3, 5, 1).reshape(b, gh * gw, -1)
    shift, scale = latent_statistics(z.device)
    return (z - shift) / scale


def sample_progressive(
    cond: Ideogram4Transformer,
    uncond: Ideogram4Transformer | None,
    text: Sequence[torch.Tensor],
    noise: torch.Tensor,
    grid: tuple[int, int],
    size: tuple[int, int],
    settings: SamplingSettings,
    fraction: float,
    callback: StepCallback | None = None,
    *,
    step_cache: float = 0.0,
    compile_backend: str | None = None,
) -> torch.Tensor:
    """Like `sampler.sample` from noise, with the first `fraction` of the steps at half resolution."""
    options = {"step_cache": step_cache, "compile_backend": compile_backend}
    low_steps = low_resolution_steps(settings, fraction)
    low_grid = (grid[0] // 2, grid[1] // 2)
    if low_steps == 0 or min(low_grid) == 0:
        return sample(cond, uncond, text, noise, grid, size, settings, callback, **options)
    captured: dict[str, torch.Tensor] = {}

    def low_callback(step: int, total: int, x: torch.Tensor, denoised: torch.Tensor) -> bool | None:
        captured["denoised"] = denoised
        if callback is None:
            return None
        return callback(step, settings.steps, resize_tokens(x, low_grid, grid), resize_tokens(denoised, low_grid, grid))

    def high_callback(step: int, total: int, x: torch.Tensor, denoised: torch.Tensor) -> bool | None:
        return None if callback is None else callback(step + low_steps, settings.steps, x, denoised)

    low_noise = pool_noise(noise, grid)
    sample(cond, uncond, text, low_noise, low_grid, size, settings, low_callback, stop_before=low_steps, **options)
    sigma = float(schedule.sigmas(settings.steps, settings.mu, settings.std, *size)[low_steps])
    start = StartLatent(resize_tokens(captured["denoised"], low_grid, grid), sigma)
    return sample(cond, uncond, text, noise, grid, size, settings, high_callback, start, **options)
