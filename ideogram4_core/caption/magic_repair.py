"""Deterministic repairs of a generated caption for the rules its grammar cannot express, then the verifier.

Boxes get min ≤ max on both axes and a non-zero area; a text element with blank text becomes an object;
palettes are cut to the verifier's caps; keys are put in canonical order.
"""

from __future__ import annotations

import json
from typing import Any

from .canonical import dumps_canonical
from .problems import Problem, errors
from .rules import is_blank
from .verify import verify_text

PALETTE_CAPS = {"style": 16, "element": 5}


def _fix_box(box: list[int]) -> list[int]:
    y0, x0, y1, x1 = box
    (y0, y1), (x0, x1) = sorted((y0, y1)), sorted((x0, x1))
    if y0 == y1:
        y0, y1 = (y0 - 1, y1) if y1 == 1000 else (y0, y1 + 1)
    if x0 == x1:
        x0, x1 = (x0 - 1, x1) if x1 == 1000 else (x0, x1 + 1)
    return [y0, x0, y1, x1]


def _fix_element(element: dict[str, Any], notes: list[str], index: int) -> None:
    box = element.get("bbox")
    if isinstance(box, list) and len(box) == 4 and all(isinstance(v, int) for v in box):
        fixed = _fix_box(box)
        if fixed != box:
            element["bbox"] = fixed
            notes.append(f"element {index + 1}: box {box} ordered to {fixed}")
    if element.get("type") == "text" and is_blank(element.get("text", "")):
        element["type"] = "obj"
        element.pop("text", None)
        notes.append(f"element {index + 1}: blank literal text, made an object")
    if isinstance(element.get("color_palette"), list):
        element["color_palette"] = element["color_palette"][: PALETTE_CAPS["element"]]


def finalize(raw: str) -> tuple[str, list[str], list[Problem]]:
    """(canonical caption text, what was repaired, the verifier's remaining errors) for generated text."""
    try:
        caption = json.loads(raw)
    except json.JSONDecodeError as exc:
        return raw, [], [Problem("", f"not valid JSON: {exc.msg}", "generate again")]
    notes: list[str] = []
    if isinstance(caption, dict):
        style = caption.get("style_description")
        if isinstance(style, dict) and isinstance(style.get("color_palette"), list):
            style["color_palette"] = style["color_palette"][: PALETTE_CAPS["style"]]
        composition = caption.get("compositional_deconstruction")
        elements = composition.get("elements") if isinstance(composition, dict) else None
        for index, element in enumerate(elements if isinstance(elements, list) else []):
            if isinstance(element, dict):
                _fix_element(element, notes, index)
    text = dumps_canonical(caption)
    return text, notes, errors(verify_text(text).problems)
