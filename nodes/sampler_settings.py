"""The sampler node's pure logic: preset combo → SamplingSettings, size checks, the status line.

The ``preset`` input is a DynamicCombo: its value arrives as ``{"preset": label, ...}`` and holds the custom
fields (``steps``, ``guidance``, ``polish_steps``, ``polish_guidance``, ``mu``, ``std``) only when the label is
``Custom``. In API-format prompts those fields are written ``"preset.steps"`` etc.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..ideogram4_core.errors import Ideogram4Error
from ..ideogram4_core.sampling.schedule import PRESETS, SamplingSettings
from ..ideogram4_core.sampling.sizes import check_size

CUSTOM = "Custom"
PRESET_LABELS: dict[str, str] = {  # the first is the combo's default
    "Default (20 steps)": "V4_DEFAULT_20",
    "Quality (48 steps)": "V4_QUALITY_48",
    "Turbo (12 steps)": "V4_TURBO_12",
    "Community (34 steps)": "COMMUNITY_34",
    "Community (16 steps)": "COMMUNITY_16",
    "Few-step LoRA (8 steps)": "FEW_STEP_8",
    "Few-step LoRA (4 steps)": "FEW_STEP_4",
}
CUSTOM_FIELDS = ("steps", "guidance", "polish_steps", "polish_guidance", "mu", "std")


def resolve_settings(preset: Mapping[str, Any]) -> SamplingSettings:
    """The settings the preset combo's value selects; Custom takes its own fields."""
    label = preset.get("preset")
    if label in PRESET_LABELS:
        return PRESETS[PRESET_LABELS[label]]
    if label != CUSTOM:
        raise Ideogram4Error(f"Unknown preset {label!r}; choose one of {', '.join([*PRESET_LABELS, CUSTOM])}.")
    missing = [f for f in CUSTOM_FIELDS if preset.get(f) is None]
    if missing:
        raise Ideogram4Error(f"The Custom preset needs {', '.join(missing)} (API prompts: 'preset.{missing[0]}').")
    values = {f: preset[f] for f in CUSTOM_FIELDS}
    return SamplingSettings(**{f: int(v) if f.endswith("steps") else float(v) for f, v in values.items()})


def size_error(width: Any, height: Any, full_size: bool = False) -> str | None:
    """Why this size cannot be sampled, or None. Linked (not yet known) sizes pass."""
    if not isinstance(width, int) or not isinstance(height, int):
        return None
    try:
        check_size(width, height, full_size=full_size)
    except Ideogram4Error as exc:
        return str(exc)
    return None


def describe_run(
    label: str, settings: SamplingSettings, size: tuple[int, int], batch: int, seed: int, seconds: float, steps_run: int
) -> str:
    """One status line: what ran, how big, which seed, how long."""
    width, height = size
    run = f"{label}: {settings.describe()} · {width}×{height} ×{batch} · seed {seed}"
    if steps_run != settings.steps:
        run += f" · image-to-image: last {steps_run} steps"
    return f"{run} · {seconds:.1f} s ({seconds / max(steps_run, 1):.2f} s/step)"
