"""The text chunks every rendered PNG carries: the caption and the settings that made it."""

from __future__ import annotations

import io

from PIL import Image, PngImagePlugin

from .sampling.schedule import SamplingSettings


def png_info(
    caption: str, seed: int, settings: SamplingSettings, loras: str = "", **extra: str
) -> PngImagePlugin.PngInfo:
    """`ideogram4_caption` (UTF-8), `ideogram4_settings` (with the LoRAs used, if any), and any `extra` text
    chunks (e.g. a batch job id)."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt("ideogram4_caption", caption)
    info.add_itxt("ideogram4_settings", f"seed {seed}; {settings.describe()}" + (f"; {loras}" if loras else ""))
    for key, value in extra.items():
        info.add_itxt(key, value)
    return info


def png_bytes(image: Image.Image, info: PngImagePlugin.PngInfo) -> bytes:
    """The image encoded as PNG with its text chunks, as `Image.save` would write it."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
