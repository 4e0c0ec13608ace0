"""Image size rules (SPEC §7)."""

from __future__ import annotations

from ..errors import Ideogram4Error

PIXELS_PER_TOKEN = 16  # 8× VAE downscale, then 2×2 patches
MIN_SIDE, MAX_SIDE, MAX_ASPECT = 256, 2048, 6.0


def check_size(width: int, height: int, *, full_size: bool = True) -> None:
    """Multiples of 16 always; the 256–2048 range and 6:1 aspect cap apply to the released model's size."""
    for name, value in (("width", width), ("height", height)):
        if value <= 0 or value % PIXELS_PER_TOKEN:
            step = PIXELS_PER_TOKEN
            lower = max(step, value // step * step)
            raise Ideogram4Error(f"{name} {value} is not a positive multiple of {step}; use {lower} or {lower + step}.")
    if not full_size:
        return
    for name, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise Ideogram4Error(f"{name} {value} is outside {MIN_SIDE}–{MAX_SIDE}; pick a size in that range.")
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise Ideogram4Error(
            f"{width}×{height} is wider than {MAX_ASPECT:g}:1; make the shorter side at least "
            f"{-(-max(width, height) // int(MAX_ASPECT) // 16) * 16}."
        )
