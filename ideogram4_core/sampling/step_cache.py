"""First-block step cache (opt-in fast mode): skip a step's later blocks when the first block barely changed.

At every step the branch runs its first block. When the first block's residual (output − input) differs from
the one of the last fully computed step by less than `threshold` (mean absolute difference relative to its mean
absolute value), the remaining blocks are skipped and their residual from that last full step is reused.
Comparing against the last *full* step (not the previous one) makes small drifts add up until a full step
runs again. Each decision reads one number on the host, so this mode syncs once per step and branch; the
exact sampler (threshold 0) never does. The trade-off in speed and fidelity is measured in the README.
"""

from __future__ import annotations

import torch

from ..models.transformer import BranchInputs, Ideogram4Transformer


class FirstBlockCache:
    """A drop-in for `model.run` that caches the residual of blocks 1… across steps (one per branch)."""

    def __init__(self, model: Ideogram4Transformer, threshold: float) -> None:
        if threshold < 0:
            raise ValueError(f"step cache threshold must be ≥ 0 (got {threshold:g})")
        self.model = model
        self.threshold = threshold
        self.steps = 0
        self.skipped = 0
        self._first_residual: torch.Tensor | None = None  # of the last fully computed step
        self._rest_residual: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor, t: torch.Tensor, inputs: BranchInputs) -> torch.Tensor:
        model, (first, *rest) = self.model, inputs.blocks
        adaln = model.time_conditioning(t)
        h0 = model.embed(x, inputs)
        h1 = first(h0, adaln, inputs.rope, inputs.mask)
        first_residual = h1 - h0
        self.steps += 1
        if self._can_reuse(first_residual):
            self.skipped += 1
            return model.head(h1 + self._rest_residual, adaln, x.shape[1])
        h = h1
        for block in rest:
            h = block(h, adaln, inputs.rope, inputs.mask)
        self._first_residual, self._rest_residual = first_residual, h - h1
        return model.head(h, adaln, x.shape[1])

    def _can_reuse(self, first_residual: torch.Tensor) -> bool:
        if self.threshold == 0 or self._first_residual is None:
            return False
        if self._first_residual.shape != first_residual.shape:
            return False
        change = (first_residual - self._first_residual).abs().float().mean()
        return bool(change < self.threshold * self._first_residual.abs().float().mean())
