"""The opt-in fast modes as one setting, and the sampler entry point that honours them (off: the exact sampler)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..errors import Ideogram4Error
from ..models.transformer import Ideogram4Transformer
from .progressive import sample_progressive
from .sampler import StartLatent, StepCallback, sample
from .schedule import SamplingSettings


@dataclass(frozen=True)
class FastModes:
    """`step_cache`: first-block cache threshold (0 off, see `step_cache`); `progressive`: fraction of the
    steps run at half resolution (0 off, see `progressive`). Both trade fidelity for speed. `compile`:
    `torch.compile` the transformer blocks (see `models.compile`), which keeps the result up to float rounding."""

    step_cache: float = 0.0
    progressive: float = 0.0
    compile: bool = False

    def __post_init__(self) -> None:
        if self.step_cache < 0:
            raise Ideogram4Error(f"The step cache threshold must be ≥ 0 (got {self.step_cache:g}); 0 turns it off.")
        if not 0.0 <= self.progressive < 1.0:
            raise Ideogram4Error(f"The progressive fraction must be in [0, 1) (got {self.progressive:g}).")

    def describe(self) -> str:
        """Empty when off, else e.g. "step cache 0.1, progressive 0.3, compiled"."""
        parts = [f"step cache {self.step_cache:g}"] if self.step_cache else []
        parts += [f"progressive {self.progressive:g}"] if self.progressive else []
        return ", ".join(parts + (["compiled"] if self.compile else []))

    @property
    def compile_backend(self) -> str | None:
        return "inductor" if self.compile else None


EXACT = FastModes()


def sample_fast(
    cond: Ideogram4Transformer,
    uncond: Ideogram4Transformer | None,
    text: Sequence[torch.Tensor],
    noise: torch.Tensor,
    grid: tuple[int, int],
    size: tuple[int, int],
    settings: SamplingSettings,
    callback: StepCallback | None = None,
    start: StartLatent | None = None,
    fast: FastModes = EXACT,
) -> torch.Tensor:
    """`sampler.sample` with the fast modes in `fast` applied; progressive resolution starts from noise only."""
    options = {"step_cache": fast.step_cache, "compile_backend": fast.compile_backend}
    if not fast.progressive:
        return sample(cond, uncond, text, noise, grid, size, settings, callback, start, **options)
    if start is not None:
        raise Ideogram4Error("Progressive resolution starts from noise; turn it off for image-to-image.")
    return sample_progressive(cond, uncond, text, noise, grid, size, settings, fast.progressive, callback, **options)
