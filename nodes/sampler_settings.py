"""The sampler node's pure logic: preset combo → SamplingSettings, size checks, the status line.

The ``preset`` input is a DynamicCombo: its value arrives as ``{"preset": label, ...}`` and holds the custom
fields (``steps``, ``guidance``, ``polish_steps``, ``polish_guidance``, ``mu``, ``std``) only when the label is
``Custom``. In API-format prompts those fields are written ``"preset.steps"`` etc. ComfyUI does not check the
label itself: a label that is not an option reaches the node's validator as the bare string (the sampler accepts
all inputs for this), so `preset_error` refuses it when the prompt is queued.
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


def preset_error(preset: Mapping[str, Any] | str | None) -> str | None:
    """Why the preset combo's value names no preset (a mapping for an option, the bare label ComfyUI passes when
    it is not one), or None. Custom fields are checked when the node runs: validators only see their own inputs."""
    label = preset.get("preset") if isinstance(preset, Mapping) else preset
    if label in PRESET_LABELS or label == CUSTOM:
        return None
    choices = ", ".join([*PRESET_LABELS, CUSTOM])
    if label is None:
        return f"The preset is missing; choose one of {choices}."
    return f"Unknown preset {label!r}; choose one of {choices}."


def resolve_settings(preset: Mapping[str, Any]) -> SamplingSettings:
    """The settings the preset combo's value selects; Custom takes its own fields."""
    label = preset.get("preset")
    if label in PRESET_LABELS:
        return PRESETS[PRESET_LABELS[label]]
    if (error := preset_error(preset)) is not None:
        raise Ideogram4Error(error)
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
