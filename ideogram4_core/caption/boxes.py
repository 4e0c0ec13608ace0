"""Box conversion for the forgiving import: other layouts and units to ``[y_min, x_min, y_max, x_max]`` 0..1000.

Accepted markers (on an element, or at the top level for all elements; removed after use):
- ``"bbox_format"``: ``"yxyx"`` (the caption's own order, the default), ``"xyxy"`` (``[x_min, y_min, x_max, y_max]``)
  or ``"xywh"`` (``[x, y, width, height]``);
- ``"normalized": true`` (or ``"bbox_normalized": true``): values are 0–1 fractions of the image, not 0..1000.
Box keys: ``bbox`` (format from the marker), ``box_2d`` (Gemini: yxyx on 0..1000, renamed to ``bbox``),
``bbox_xywh`` (always xywh), ``bounding_box``/``box`` (only with a ``bbox_format`` marker), KJNodes editor
fields ``x, y, w, h`` (0–1 fractions), ComfyUI ``BOUNDING_BOX`` fields ``x, y, width, height`` (pixels; needs
the image size). Without a marker, a ``bbox`` is never reinterpreted: only integral floats become integers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FORMATS = ("yxyx", "xyxy", "xywh")
NORMALIZED_KEYS = ("normalized", "bbox_normalized")
MARKED_KEYS = ("bounding_box", "box")
KJ_KEYS = ("x", "y", "w", "h")
COMFY_KEYS = ("x", "y", "width", "height")


@dataclass(frozen=True)
class BoxMarkers:
    """How the boxes of an element are written."""

    format: str | None = None
    normalized: bool = False


class BoxError(ValueError):
    """A box that cannot be converted without guessing; the message says why."""


def box_sources(element: dict[str, Any]) -> list[str]:
    """The box notations present on an element (more than one is ambiguous)."""
    found = [key for key in ("bbox", "bbox_xywh", *MARKED_KEYS) if key in element]
    if all(key in element for key in KJ_KEYS):
        found.append("x/y/w/h")
    elif all(key in element for key in COMFY_KEYS):
        found.append("x/y/width/height")
    return found


def describe(source: str, markers: BoxMarkers) -> str:
    """How a box source is read, for repair messages."""
    if source == "x/y/w/h":
        return "KJNodes x/y/w/h fractions"
    if source == "x/y/width/height":
        return "ComfyUI pixel box x/y/width/height"
    fmt = "xywh" if source == "bbox_xywh" else markers.format or "yxyx"
    return f"{source} as {fmt} in {'0–1 fractions' if markers.normalized else '0..1000'}"


def convert_box(
    source: str, element: dict[str, Any], markers: BoxMarkers, image_size: tuple[int, int] | None
) -> list[int]:
    """Read the box written as ``source`` on ``element`` and return it in caption form."""
    if source == "x/y/w/h":
        return to_caption_box([element[k] for k in KJ_KEYS], "xywh", normalized=True)
    if source == "x/y/width/height":
        if image_size is None:
            raise BoxError("pixel boxes (x, y, width, height) need the image size, which is not known here")
        width, height = image_size
        x, y, w, h = _numbers([element[k] for k in COMFY_KEYS])
        return to_caption_box([x / width, y / height, w / width, h / height], "xywh", normalized=True)
    if source == "bbox_xywh":
        if markers.format not in (None, "xywh"):
            raise BoxError(f'"bbox_xywh" contradicts the marker bbox_format="{markers.format}"')
        return to_caption_box(element[source], "xywh", markers.normalized)
    if source in MARKED_KEYS and markers.format is None:
        raise BoxError(f'the value order of "{source}" is unknown; add "bbox_format": "yxyx", "xyxy" or "xywh"')
    return to_caption_box(element[source], markers.format or "yxyx", markers.normalized)


def to_caption_box(values: Any, fmt: str, normalized: bool) -> list[int]:
    """Convert four numbers in ``fmt`` (fractions if ``normalized``, else 0..1000) to caption form."""
    a, b, c, d = _numbers(values)
    limit = 1.0 if normalized else 1000.0
    if not all(0 <= v <= limit for v in (a, b, c, d)):
        unit = "0–1 fractions" if normalized else "0..1000 units"
        raise BoxError(f"the values {list(values)} are not all {unit}")
    if not normalized and not all(v.is_integer() for v in (a, b, c, d)):
        raise BoxError(f'the values {list(values)} are not whole numbers; for 0–1 fractions add "normalized": true')
    if fmt == "xyxy":
        a, b, c, d = b, a, d, c
    elif fmt == "xywh":
        a, b, c, d = b, a, b + d, a + c
    scale = 1000.0 if normalized else 1.0
    box = [math.floor(v * scale + 0.5) for v in (a, b, c, d)]
    if max(box) > 1000:
        raise BoxError(f"the box reaches past the image edge ({box})")
    return box


def _numbers(values: Any) -> list[float]:
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) != 4:
        raise BoxError(f"expected four numbers, got {values!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise BoxError(f"expected four numbers, got {list(values)!r}")
    return [float(v) for v in values]
