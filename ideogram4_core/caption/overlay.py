"""Draw a caption's element boxes on an image: outline, index, type and text/description per element.

Boxes are `[y_min, x_min, y_max, x_max]` in 0–1000 of the image height/width, origin top-left (SPEC §6).
A box covers pixel columns `floor(x_min·W/1000)` … `ceil(x_max·W/1000) − 1` (rows likewise); its outline is
drawn inside those pixels. Labels read ``#i type: text`` with `i` the element's index in
``compositional_deconstruction.elements`` (as in problem paths) and sit above the box, or inside its top edge
when there is no room above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont

COLORS = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (0, 170, 170),
    (240, 50, 230),
    (128, 128, 0),
)
_ELLIPSIS = "…"


@dataclass(frozen=True)
class ElementBox:
    """One element to draw: its index, type, label and pixel box (left, top, right, bottom), inclusive."""

    index: int
    kind: str
    label: str
    box: tuple[int, int, int, int]


def pixel_box(bbox: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """A 0–1000 `[y_min, x_min, y_max, x_max]` box as inclusive pixel bounds (left, top, right, bottom)."""
    y0, x0, y1, x1 = (min(max(float(v), 0.0), 1000.0) for v in bbox)
    left, top = min(math.floor(x0 * width / 1000), width - 1), min(math.floor(y0 * height / 1000), height - 1)
    right = max(left, math.ceil(x1 * width / 1000) - 1)
    bottom = max(top, math.ceil(y1 * height / 1000) - 1)
    return left, top, right, bottom


def _label(index: int, element: Mapping[str, Any]) -> str:
    kind = element.get("type", "?")
    if kind == "text" and isinstance(element.get("text"), str):
        return f'#{index} text: "{element["text"]}"'
    return f"#{index} {kind}: {element.get('desc', '')}".rstrip(": ")


def _is_box(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def element_boxes(caption: Any, width: int, height: int) -> list[ElementBox]:
    """The caption's elements that carry a usable bbox, in pixel coordinates; others are skipped."""
    if not isinstance(caption, Mapping):
        return []
    elements = caption.get("compositional_deconstruction", {})
    elements = elements.get("elements", []) if isinstance(elements, Mapping) else []
    return [
        ElementBox(i, str(e.get("type", "?")), _label(i, e), pixel_box(e["bbox"], width, height))
        for i, e in enumerate(elements if isinstance(elements, list) else [])
        if isinstance(e, Mapping) and _is_box(e.get("bbox"))
    ]


def _fit(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, limit: float) -> str:
    """`text` shortened with an ellipsis until it is at most `limit` pixels wide."""
    if font.getlength(text) <= limit:
        return text
    while text and font.getlength(text + _ELLIPSIS) > limit:
        text = text[:-1]
    return text + _ELLIPSIS


def _text_color(color: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    return (0, 0, 0) if luminance > 150 else (255, 255, 255)


def draw_overlay(image: Image.Image, caption: Any) -> Image.Image:
    """A copy of `image` (RGB) with every boxed element of `caption` (a parsed caption object) drawn on it."""
    out = image.convert("RGB")
    width, height = out.size
    line = max(2, round(min(width, height) / 300))
    font = ImageFont.load_default(size=max(10, round(min(width, height) / 45)))
    draw = ImageDraw.Draw(out)
    boxes = element_boxes(caption, width, height)
    for element in boxes:
        draw.rectangle(element.box, outline=COLORS[element.index % len(COLORS)], width=line)
    for element in boxes:
        color = COLORS[element.index % len(COLORS)]
        left, top, _, _ = element.box
        text = _fit(element.label, font, width - left - 2 * line)
        _, _, text_w, text_h = draw.textbbox((0, 0), text, font=font)
        label_h = text_h + line
        y = top - label_h if top >= label_h else top + line
        draw.rectangle((left, y, left + text_w + 2 * line, y + label_h), fill=color)
        draw.text((left + line, y + line // 2), text, fill=_text_color(color), font=font)
    return out
