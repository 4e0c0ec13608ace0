"""Euler flow-matching sampler with asymmetric guidance (SPEC §4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..errors import Ideogram4Error
from ..models.compile import compiled_blocks
from ..models.transformer import Ideogram4Transformer
from . import schedule
from .latents import TOKEN_CHANNELS
from .masks import TokenMask
from .schedule import SamplingSettings
from .step_cache import FirstBlockCache

# step (0-based), total steps, current latent tokens, predicted clean tokens → True to stop the run.
StepCallback = Callable[[int, int, torch.Tensor, torch.Tensor], "bool | None"]


class SamplingStopped(Exception):
    """Raised when a step callback asks to stop."""


@dataclass(frozen=True)
class StartLatent:
    """Image-to-image start: clean tokens (1 or B, N, 128) and the noise level to start from (0 < denoise ≤ 1).

    With a `mask`, only masked tokens are repainted; the others follow the input (see `masks.TokenMask`).
    """

    tokens: torch.Tensor
    denoise: float
    mask: TokenMask | None = None


def check_denoise(denoise: float) -> None:
    if not 0.0 < denoise <= 1.0:
        raise Ideogram4Error(f"denoise must be in (0, 1] (got {denoise:g}); 1 repaints fully, 0.3 changes little.")


def start_step(sig: torch.Tensor, denoise: float) -> int:
    """The first step whose σ is at most `denoise`; at least one step always runs."""
    check_denoise(denoise)
    below = (sig[:-1] <= denoise).nonzero()
    return int(below[0]) if len(below) else len(sig) - 2


def initial_noise(seed: int, batch: int, num_tokens: int) -> torch.Tensor:
    """The reference's noise: float32 normal (B, tokens, 128) from a seeded CPU generator."""
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn((batch, num_tokens, TOKEN_CHANNELS), generator=generator, dtype=torch.float32)


def pack_text(features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stack per-image caption features (L_i, F) into (B, L, F); pad and mask only when lengths differ."""
    lengths = {f.shape[0] for f in features}
    if len(lengths) == 1:
        if all(f is features[0] for f in features):
            return features[0].unsqueeze(0).expand(len(features), -1, -1), None
        return torch.stack(list(features)), None
    longest = max(lengths)
    padded = features[0].new_zeros(len(features), longest, features[0].shape[1])
    mask = torch.zeros(len(features), longest, dtype=torch.bool, device=features[0].device)
    for i, f in enumerate(features):
        padded[i, : f.shape[0]] = f
        mask[i, : f.shape[0]] = True
    return padded, mask


def _stepper(model: Ideogram4Transformer, step_cache: float) -> Callable[..., torch.Tensor]:
    """What runs one step of a branch: the model itself, or its first-block cache."""
    return FirstBlockCache(model, step_cache) if step_cache else model.run


def sample(
    cond: Ideogram4Transformer,
    uncond: Ideogram4Transformer | None,
    text: Sequence[torch.Tensor],
    noise: torch.Tensor,
    grid: tuple[int, int],
    size: tuple[int, int],
    settings: SamplingSettings,
    callback: StepCallback | None = None,
    start: StartLatent | None = None,
    *,
    step_cache: float = 0.0,
    stop_before: int | None = None,
    compile_backend: str | None = None,
) -> torch.Tensor:
    """Denoise `noise` (B, N, 128) into clean latent tokens (float32) for the caption features `text`.

    `text` holds one (L, F) feature tensor per image; `size` is (width, height) in pixels. With `start`,
    sampling begins at step k = `start_step(σ, denoise)` from x = (1 − σ_k)·tokens + σ_k·noise, and the
    callback counts the remaining steps only; a start's mask is applied after every step. `step_cache` > 0 turns
    on the first-block step cache with that threshold (a fast mode, not exact; see `step_cache`); `stop_before`
    ends the run before that step index. `compile_backend` (e.g. "inductor") runs `torch.compile`d blocks
    (see `models.compile`; None: eager).
    """
    device = next(cond.parameters()).device
    guidance = settings.guidance_schedule()
    if uncond is None and any(g != 1.0 for g in guidance):
        raise Ideogram4Error("Guidance other than 1 needs the unconditional transformer; load it or set guidance 1.")
    sig = schedule.sigmas(settings.steps, settings.mu, settings.std, *size).to(device)
    x = noise.to(device=device, dtype=torch.float32)
    first, keep = 0, None
    if start is not None:
        first = start_step(sig, start.denoise)
        x0 = start.tokens.to(device=device, dtype=torch.float32)
        if start.mask is not None:
            keep = start.mask.keeper(x0, x, sig, first)
        x = (1.0 - sig[first]) * x0 + sig[first] * x
    batch = x.shape[0]
    text_features, text_mask = pack_text([t.to(device) for t in text])

    with torch.inference_mode():
        # Constant over the run: computed once here, so the loop below never waits on the host.
        def blocks(model: Ideogram4Transformer) -> list | None:
            return None if compile_backend is None else compiled_blocks(model, compile_backend)

        cond_rope = cond.rotary(text_features.shape[1], grid, device)
        cond_inputs = cond.prepare(cond_rope, text_features, text_mask, blocks=blocks(cond))
        uncond_inputs = None
        if uncond is not None:
            uncond_inputs = uncond.prepare(uncond.rotary(0, grid, device), blocks=blocks(uncond))
        run_cond = _stepper(cond, step_cache)
        run_uncond = _stepper(uncond, step_cache) if uncond is not None else None
        for i in range(first, len(guidance) if stop_before is None else stop_before):
            g = guidance[i]
            # The reference derives model time from scheduler timesteps (σ·1000); keep its rounding.
            t = (1.0 - (sig[i] * 1000.0) / 1000.0).expand(batch)
            v = None
            if g != 0.0:
                v = run_cond(x, t, cond_inputs).float()
            if g != 1.0:
                v_uncond = run_uncond(x, t, uncond_inputs).float()
                v = v_uncond if v is None else g * v + (1.0 - g) * v_uncond
            denoised = x + sig[i] * v
            x = x + (sig[i + 1] - sig[i]) * -v
            if keep is not None:
                x = keep(x, i + 1)
            step, total = i - first, len(guidance) - first
            if callback is not None and callback(step, total, x, denoised):
                raise SamplingStopped(f"Stopped after step {step + 1} of {total}.")
    return x
