"""The JSON Schema the magic prompt decodes against: the full caption schema (caption.schema.json) with every
string and list bounded, and the rules a schema can express written as alternatives, in canonical key order.

Differences from the verifier's schema, all stricter: `high_level_description` and element boxes are required
(a magic caption is always laid out), exactly one of `photo` / `art_style` (two style variants), `text` only on
text elements, at least one element, and palette caps below the verifier's (16 / 5).
"""

from __future__ import annotations

from typing import Any

MAX_ELEMENTS = 10
STYLE_PALETTE_CAP = 8
ELEMENT_PALETTE_CAP = 4
LONG_TEXT = 600  # characters: descriptions, background
SHORT_TEXT = 240  # characters: style fields, literal text


def _string(max_length: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length}


def _palette(cap: int) -> dict[str, Any]:
    return {"type": "array", "maxItems": cap, "items": {"type": "string", "pattern": "^#[0-9A-F]{6}$"}}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _style(kind: str) -> dict[str, Any]:
    properties = {
        "aesthetics": _string(SHORT_TEXT),
        "lighting": _string(SHORT_TEXT),
        kind: _string(SHORT_TEXT),
        "medium": _string(SHORT_TEXT),
        "color_palette": _palette(STYLE_PALETTE_CAP),
    }
    if kind == "art_style":  # canonical order: aesthetics, lighting, photo, medium, art_style, color_palette
        properties = {
            key: properties[key] for key in ("aesthetics", "lighting", "medium", "art_style", "color_palette")
        }
    return _object(properties, ["aesthetics", "lighting", kind, "medium"])


def _element(kind: str) -> dict[str, Any]:
    box = {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "integer", "minimum": 0, "maximum": 1000}}
    properties: dict[str, Any] = {"type": {"const": kind}, "bbox": box}
    if kind == "text":
        properties["text"] = _string(SHORT_TEXT)
    properties |= {"desc": _string(LONG_TEXT), "color_palette": _palette(ELEMENT_PALETTE_CAP)}
    return _object(properties, ["type", "bbox", *(["text"] if kind == "text" else []), "desc"])


def generation_schema() -> dict[str, Any]:
    """The bounded caption schema (a valid instance also passes `caption.verify` once boxes are ordered)."""
    composition = _object(
        {
            "background": _string(LONG_TEXT),
            "elements": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ELEMENTS,
                "items": {"anyOf": [_element("obj"), _element("text")]},
            },
        },
        ["background", "elements"],
    )
    return _object(
        {
            "high_level_description": _string(SHORT_TEXT),
            "style_description": {"anyOf": [_style("photo"), _style("art_style")]},
            "compositional_deconstruction": composition,
        },
        ["high_level_description", "compositional_deconstruction"],
    )
