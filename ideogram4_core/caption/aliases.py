"""Key and value spellings used by other editors and LLMs, and what they mean in the caption format.

Shared by the forgiving import (which renames them) and the verifier (which suggests the rename).
"""

from __future__ import annotations

PALETTE_ALIASES = ("palette", "colors", "colours", "colour_palette")

STYLE_KEY_ALIASES = dict.fromkeys(PALETTE_ALIASES, "color_palette")

ELEMENT_KEY_ALIASES = {
    "description": "desc",
    "box_2d": "bbox",  # Gemini's detection format: [y_min, x_min, y_max, x_max] on a 0-1000 grid
    **STYLE_KEY_ALIASES,
}

# Only on elements of type "text": on an "obj" element a label may be a name, not words to render.
TEXT_KEY_ALIASES = {"label": "text", "content": "text"}

TYPE_VALUE_ALIASES = {"object": "obj"}

TOP_LEVEL_HINTS = {
    "elements": "move it into compositional_deconstruction",
    "background": "move it into compositional_deconstruction",
    "aspect_ratio": 'remove it ("v15" dialect): the image size comes from width and height',
    "aesthetics": "move it into style_description",
    "lighting": "move it into style_description",
    "medium": "move it into style_description",
    "photo": "move it into style_description",
    "art_style": "move it into style_description",
}


def rename_hint(key: str, context: str) -> str | None:
    """A fix for an unknown ``key`` found in ``context`` ("root", "style" or "element"), if one is known."""
    if context == "root":
        return TOP_LEVEL_HINTS.get(key)
    table = STYLE_KEY_ALIASES if context == "style" else ELEMENT_KEY_ALIASES | TEXT_KEY_ALIASES
    target = table.get(key)
    return f'rename it to "{target}"' if target else None
