"""Picking caption elements by number for editing: "2,5" → the boxes of elements 2 and 5.

Element numbers are 1-based positions in ``compositional_deconstruction.elements`` (the Caption Builder's
numbering). The caption is read with the forgiving import, so a box in another notation is converted first.
"""

from __future__ import annotations

import re

from ..errors import CaptionError
from .importer import import_caption

_SEPARATORS = re.compile(r"[\s,;]+")
_DRAW_A_BOX = "draw a box for it in the Caption Builder (or give it a bbox [y_min, x_min, y_max, x_max] on 0..1000)"


def parse_element_numbers(text: str) -> list[int]:
    """ "2,5", "2, 5" or "2 5" → [2, 5] (order kept, repeats dropped); CaptionError on anything else."""
    parts = [p for p in _SEPARATORS.split(text.strip()) if p]
    if not parts:
        raise CaptionError("No element numbers were given; list the elements to re-render, e.g. 2,5.")
    numbers = []
    for part in parts:
        if not part.isdigit() or int(part) < 1:
            raise CaptionError(
                f"{part!r} is not an element number; give 1-based numbers separated by commas, e.g. 2,5."
            )
        if int(part) not in numbers:
            numbers.append(int(part))
    return numbers


def element_boxes(caption_text: str, numbers: list[int]) -> list[list[int]]:
    """The boxes ([y_min, x_min, y_max, x_max], 0..1000) of the numbered elements of a caption."""
    imported = import_caption(caption_text)
    if not isinstance(imported.caption, dict):
        raise CaptionError("The caption is not JSON, so it has no element boxes; use a JSON caption with boxes.")
    elements = imported.caption.get("compositional_deconstruction", {}).get("elements", [])
    boxes = []
    for number in numbers:
        if number > len(elements):
            raise CaptionError(
                f"Element {number} does not exist: the caption has {len(elements)} element(s); pick one of "
                f"1–{len(elements)} or add the element in the Caption Builder."
            )
        element = elements[number - 1]
        box = element.get("bbox") if isinstance(element, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
            raise CaptionError(f"Element {number} ({_label(element)}) has no box; {_DRAW_A_BOX}.")
        boxes.append([round(v) for v in box])
    return boxes


def _label(element: object) -> str:
    if not isinstance(element, dict):
        return "not an object"
    if element.get("type") == "text" and element.get("text"):
        return f"text {element['text']!r}"
    return f"{element.get('type', 'element')} {str(element.get('desc', ''))[:40]!r}"
