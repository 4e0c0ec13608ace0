"""Designer lint: warnings about a layout that is valid but likely to disappoint (twin of web/lib/lint.mjs).

Rules, all on elements with a usable box (``y1 > y0``, ``x1 > x0``), at the image size ``width × height``:

- **small text**: the literal text, set as large as fits its box (advance 0.55 em per character, line
  height 1.2 em, wrapped at spaces), gets letters (cap height 0.7 em) under 16 px. 16 px is the model's
  token grid: the VAE downsamples 8× and the transformer patches 2×2, so one token covers 16 × 16 px and a
  letter smaller than one token has no cell of its own to be drawn in.
- **overlapping text**: two text boxes share more than 10 % of the smaller one (reported on the later one).
- **low contrast**: a text element's first palette colour against the global palette's first colour (the
  background's) has a WCAG contrast ratio under 3:1 (the WCAG minimum for large text).
- **safe margin**: a text box reaches into the outer 5 % of the canvas, where crops and bleeds cut text
  (objects may bleed off the edge on purpose).
"""

from __future__ import annotations

import math
import re
from typing import Any

from .problems import Problem, join_path

COORD_MAX = 1000
ADVANCE_EM = 0.55
LINE_EM = 1.2
CAP_EM = 0.7
MIN_GLYPH_PX = 16
OVERLAP_SHARE = 0.1
MIN_CONTRAST = 3.0
MARGIN = 50  # units: 5 % of the canvas
_ELEMENTS = "compositional_deconstruction.elements"
_HEX = re.compile(r"#[0-9A-Fa-f]{6}\Z")
_SPACE = re.compile(r"[ \t\n\r]+")
Box = tuple[float, float, float, float]  # y_min, x_min, y_max, x_max in caption units


def lint(caption: Any, width: int, height: int) -> list[Problem]:
    """Designer warnings for ``caption`` rendered at ``width × height`` pixels (none for unusable input)."""
    cd = caption.get("compositional_deconstruction") if isinstance(caption, dict) else None
    elements = cd.get("elements") if isinstance(cd, dict) else None
    if not isinstance(elements, list):
        return []
    boxed = [(i, e, _box(e)) for i, e in enumerate(elements) if isinstance(e, dict)]
    texts = [(i, e, b) for i, e, b in boxed if b and e.get("type") == "text"]
    background = _palette_head(caption.get("style_description"))
    out: list[Problem] = []
    for n, (i, element, box) in enumerate(texts):
        path = join_path(_ELEMENTS, i)
        out += _small_text(element, box, path, width, height)
        out += [_overlap(path, j) for j, _, other in texts[:n] if _overlaps(box, other)]
        out += _contrast(element, background, path)
        out += _margin(box, path)
    return out


def _box(element: dict[str, Any]) -> Box | None:
    bbox = element.get("bbox")
    ok = isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)
    if not ok or bbox[2] <= bbox[0] or bbox[3] <= bbox[1]:
        return None
    return bbox[0], bbox[1], bbox[2], bbox[3]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _palette_head(holder: Any) -> str | None:
    palette = holder.get("color_palette") if isinstance(holder, dict) else None
    head = palette[0] if isinstance(palette, list) and palette else None
    return head.upper() if isinstance(head, str) and _HEX.match(head) else None


def glyph_px(text: str, box_w: float, box_h: float) -> float:
    """Cap height in pixels of ``text`` set as large as fits a ``box_w × box_h`` px box."""
    words = [w for w in _SPACE.split(text) if w]
    if not words:
        return math.inf
    chars = sum(len(w) for w in words) + len(words) - 1
    longest = max(len(w) for w in words)
    em = min(box_h / LINE_EM, math.sqrt(box_w * box_h / (ADVANCE_EM * LINE_EM * chars)), box_w / (ADVANCE_EM * longest))
    return CAP_EM * em


def _small_text(element: dict[str, Any], box: Box, path: str, width: int, height: int) -> list[Problem]:
    text = element.get("text")
    if not isinstance(text, str):
        return []
    y0, x0, y1, x1 = box
    glyph = glyph_px(text, (x1 - x0) * width / COORD_MAX, (y1 - y0) * height / COORD_MAX)
    if glyph >= MIN_GLYPH_PX:
        return []
    return [
        Problem(
            path,
            f"text may be too small to render legibly: its letters would be about {math.floor(glyph)} px tall "
            f"at {width}×{height} (under {MIN_GLYPH_PX} px, one token of the model's grid)",
            "make the box larger, shorten the text, or raise the image size",
            "warning",
        )
    ]


def _overlaps(a: Box, b: Box) -> bool:
    dy = min(a[2], b[2]) - max(a[0], b[0])
    dx = min(a[3], b[3]) - max(a[1], b[1])
    if dy <= 0 or dx <= 0:
        return False
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return dx * dy > OVERLAP_SHARE * smaller


def _overlap(path: str, other: int) -> Problem:
    return Problem(
        join_path(path, "bbox"),
        f"text box overlaps the text box of element {other + 1}",
        "move the boxes apart, or merge the texts into one element",
        "warning",
    )


def _luminance(hex_colour: str) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(hex_colour[k : k + 2], 16)) for k in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#RRGGBB`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _contrast(element: dict[str, Any], background: str | None, path: str) -> list[Problem]:
    ink = _palette_head(element)
    if background is None or ink is None:
        return []
    ratio = contrast_ratio(ink, background)
    if ratio >= MIN_CONTRAST:
        return []
    shown = math.floor(ratio * 10) / 10
    return [
        Problem(
            join_path(path, "color_palette"),
            f"low contrast: text colour {ink} on the background colour {background} is {shown:.1f}:1 "
            f"(under {MIN_CONTRAST:.0f}:1)",
            "pick a lighter or darker text colour, or change the first colour of the global palette",
            "warning",
        )
    ]


def _margin(box: Box, path: str) -> list[Problem]:
    y0, x0, y1, x1 = box
    near = {
        "top": y0 < MARGIN,
        "left": x0 < MARGIN,
        "bottom": y1 > COORD_MAX - MARGIN,
        "right": x1 > COORD_MAX - MARGIN,
    }
    edges = [name for name, inside in near.items() if inside]
    if not edges:
        return []
    return [
        Problem(
            join_path(path, "bbox"),
            f"text box reaches into the 5% safe margin ({', '.join(edges)})",
            f"keep text at least {MARGIN} units from the canvas edges",
            "warning",
        )
    ]
