"""Sampling schedules (SPEC §4): resolution-aware logit-normal sigmas, presets and per-step guidance."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import Ideogram4Error

_LOGSNR_MIN, _LOGSNR_MAX = -15.0, 18.0


@dataclass(frozen=True)
class SamplingSettings:
    """Everything that shapes one sampling run except the caption, size and seed."""

    steps: int
    guidance: float
    polish_steps: int
    polish_guidance: float
    mu: float
    std: float

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise Ideogram4Error(f"steps must be at least 1 (got {self.steps}).")
        if not 0 <= self.polish_steps <= self.steps:
            raise Ideogram4Error(
                f"polish steps must be between 0 and the number of steps ({self.steps}); got {self.polish_steps}."
            )
        if self.std <= 0:
            raise Ideogram4Error(f"std must be positive (got {self.std}).")

    def guidance_schedule(self) -> list[float]:
        """Per-step guidance weights in execution order: main steps first, polish steps last."""
        main = self.steps - self.polish_steps
        return [float(self.guidance)] * main + [float(self.polish_guidance)] * self.polish_steps

    def describe(self) -> str:
        text = f"{self.steps} steps, guidance {self.guidance:g}"
        if self.polish_steps:
            text += f" ({self.polish_steps} polish @ {self.polish_guidance:g})"
        return f"{text}, mu {self.mu:g}, std {self.std:g}"


PRESETS: dict[str, SamplingSettings] = {
    "V4_QUALITY_48": SamplingSettings(48, 7.0, 3, 3.0, 0.0, 1.5),
    "V4_DEFAULT_20": SamplingSettings(20, 7.0, 2, 3.0, 0.0, 1.75),
    "V4_TURBO_12": SamplingSettings(12, 7.0, 1, 3.0, 0.5, 1.75),
    # Community step counts: the schedule is published, guidance is not; they reuse the default's weights.
    "COMMUNITY_34": SamplingSettings(34, 7.0, 2, 3.0, 0.0, 1.6875),
    "COMMUNITY_16": SamplingSettings(16, 7.0, 2, 3.0, 0.25, 1.8375),
    # Few-step LoRAs (distilled to run without guidance): guidance 1 never runs the unconditional branch, no polish;
    # override --steps anywhere in 2–8 (the default schedule, so time per image scales with the steps).
    "FEW_STEP_8": SamplingSettings(8, 1.0, 0, 1.0, 0.0, 1.75),
    "FEW_STEP_4": SamplingSettings(4, 1.0, 0, 1.0, 0.0, 1.75),
}
DEFAULT_PRESET = "V4_DEFAULT_20"
# The settings a user may set one by one over a preset (CLI flags, batch job fields).
OVERRIDABLE = ("steps", "guidance", "polish_steps", "polish_guidance", "mu", "std")


def preset(name: str) -> SamplingSettings:
    try:
        return PRESETS[name.upper()]
    except KeyError:
        raise Ideogram4Error(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.") from None


def settings_from(preset_name: str | None, overrides: dict[str, float]) -> SamplingSettings:
    """A preset (default V4_DEFAULT_20) with explicit values laid over it; fewer steps cap the polish steps."""
    base = preset(preset_name or DEFAULT_PRESET)
    unknown = set(overrides) - set(OVERRIDABLE)
    if unknown:
        raise Ideogram4Error(f"Unknown setting {', '.join(sorted(unknown))}; use {', '.join(OVERRIDABLE)}.")
    if "steps" in overrides and "polish_steps" not in overrides:
        overrides = {**overrides, "polish_steps": min(base.polish_steps, overrides["steps"])}
    return SamplingSettings(**{**base.__dict__, **overrides})


def schedule_mean(mu: float, width: int, height: int) -> float:
    """The logit-normal mean shifted by half the log of the pixel count relative to 512²."""
    return mu + 0.5 * math.log(width * height / 512**2)


def sigmas(steps: int, mu: float, std: float, width: int, height: int) -> torch.Tensor:
    """Decreasing float32 noise levels of length `steps + 1`, ending in 0."""
    u = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    t = 1.0 - torch.special.expit(schedule_mean(mu, width, height) + std * torch.special.ndtri(u))
    t = t.clamp(1.0 / (1.0 + math.exp(0.5 * _LOGSNR_MAX)), 1.0 / (1.0 + math.exp(0.5 * _LOGSNR_MIN)))
    sig = (1.0 - t).flip(0)[:-1].to(torch.float32)
    return torch.cat([sig, sig.new_zeros(1)])
