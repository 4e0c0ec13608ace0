"""Canonical key order and serialisation of a caption (SPEC §6).

One master order per object covers both variants: a photo caption simply has no ``art_style`` and an
``obj`` element no ``text``, so filtering the master order by the keys present gives the required order.
Unknown keys are kept, after the known ones, so serialising an invalid caption loses nothing.
"""

from __future__ import annotations

import json
from typing import Any

TOP_LEVEL_ORDER = ("high_level_description", "style_description", "compositional_deconstruction")
STYLE_ORDER = ("aesthetics", "lighting", "photo", "medium", "art_style", "color_palette")
COMPOSITION_ORDER = ("background", "elements")
ELEMENT_ORDER = ("type", "bbox", "text", "desc", "color_palette")


def _reorder(obj: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = {key: obj[key] for key in order if key in obj}
    return known | {key: value for key, value in obj.items() if key not in known}


def canonicalize(caption: Any) -> Any:
    """Return a copy of ``caption`` with every known object's keys in canonical order."""
    if not isinstance(caption, dict):
        return caption
    out = _reorder(caption, TOP_LEVEL_ORDER)
    style = out.get("style_description")
    if isinstance(style, dict):
        out["style_description"] = _reorder(style, STYLE_ORDER)
    composition = out.get("compositional_deconstruction")
    if isinstance(composition, dict):
        composition = _reorder(composition, COMPOSITION_ORDER)
        elements = composition.get("elements")
        if isinstance(elements, list):
            composition["elements"] = [_reorder(e, ELEMENT_ORDER) if isinstance(e, dict) else e for e in elements]
        out["compositional_deconstruction"] = composition
    return out


def dumps_canonical(caption: Any) -> str:
    """Serialise in canonical key order, minified, with literal non-ASCII characters."""
    return json.dumps(canonicalize(caption), ensure_ascii=False, separators=(",", ":"))
