"""JSON Schema validation of a caption, with each schema error turned into a path-specific Problem."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .aliases import rename_hint
from .problems import PathPart, Problem, format_path

SCHEMA_FILE = "caption.schema.json"
BBOX_FIX = "write four integers [y_min, x_min, y_max, x_max], each 0..1000 (per-mille of the image, origin top-left)"
COLOR_FIX = "write the colour as # and six upper-case hex digits, e.g. #1A2B3C"
REQUIRED_FIXES = {
    "compositional_deconstruction": 'add "compositional_deconstruction": {"background": "…", "elements": []}',
    "background": 'add "background": "<the scene behind the elements>"',
    "elements": 'add "elements": [] (a list of obj/text elements)',
    "aesthetics": 'add "aesthetics": "<overall look>"',
    "lighting": 'add "lighting": "<light sources and mood>"',
    "medium": 'add "medium": "<photograph, oil painting, vector illustration, …>"',
    "type": 'add "type": "obj" or "type": "text"',
    "desc": 'add "desc": "<what the element looks like>"',
    "text": 'add "text": "<the exact words to render>" or change the type to "obj"',
}
JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


@cache
def caption_schema() -> dict[str, Any]:
    """The caption JSON Schema shipped as ``caption.schema.json``."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(caption_schema())


def schema_problems(caption: Any) -> list[Problem]:
    """Validate ``caption`` against the schema; one Problem per distinct (path, message)."""
    seen: dict[tuple[str, str], Problem] = {}
    for error in _validator().iter_errors(caption):
        for problem in _translate(error):
            seen.setdefault((problem.path, problem.message), problem)
    return list(seen.values())


def _type_name(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {value!r}"
    return JSON_TYPES.get(type(value), type(value).__name__)


def _context(parts: list[PathPart]) -> str:
    if not parts:
        return "root"
    if parts == ["style_description"]:
        return "style"
    return "element" if isinstance(parts[-1], int) else "composition"


def _translate(error: ValidationError) -> list[Problem]:
    parts = list(error.absolute_path)
    path = format_path(parts)
    kind, value = error.validator, error.instance
    severity = error.schema.get("x-severity", "error") if isinstance(error.schema, dict) else "error"
    in_bbox = "bbox" in parts[-2:]
    in_palette = "color_palette" in parts[-2:]

    if kind == "required":
        missing = [key for key in error.validator_value if key not in value]
        return [
            Problem(format_path([*parts, key]), f'required key "{key}" is missing', REQUIRED_FIXES.get(key, "add it"))
            for key in missing
        ]
    if kind == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        return [
            Problem(
                format_path([*parts, key]),
                f'unknown key "{key}"',
                rename_hint(key, _context(parts)) or f"remove it (allowed here: {', '.join(allowed)})",
            )
            for key in value
            if key not in allowed
        ]
    if kind == "not":  # the only "not" in the schema: text on an obj element
        return [
            Problem(
                format_path([*parts, "text"]),
                'an element of type "obj" cannot have "text"',
                'change the type to "text" if these words should be rendered, or move them into "desc"',
            )
        ]
    if kind == "enum":
        return [Problem(path, f'"type" must be "obj" or "text", got {json.dumps(value)}', 'use "obj" or "text"')]
    if in_palette and kind in ("pattern", "minLength", "maxLength"):
        shown = json.dumps(value, ensure_ascii=False)
        return [Problem(path, f"{shown} is not an upper-case #RRGGBB colour", COLOR_FIX)]
    if in_palette and kind == "maxItems":
        cap = error.validator_value
        return [Problem(path, f"too many colours ({len(value)}); at most {cap} allowed here", f"keep at most {cap}")]
    if in_bbox and kind in ("minItems", "maxItems"):
        return [Problem(path, f"a bbox has exactly 4 values, got {len(value)}", BBOX_FIX)]
    if in_bbox and kind in ("minimum", "maximum"):
        return [Problem(path, f"bbox value {value} is outside 0..1000", BBOX_FIX)]
    if in_bbox and kind == "type" and isinstance(parts[-1], int):
        hint = " (it looks like a 0–1 fraction)" if isinstance(value, float) and 0 < value < 1 else ""
        fix = BBOX_FIX + ('; for fractions add "normalized": true and import it' if hint else "")
        return [Problem(path, f"bbox values must be integers, got {_type_name(value)}{hint}", fix)]
    if kind == "type":
        expected = {"string": "a string", "object": "an object", "array": "a list"}.get(
            error.validator_value, str(error.validator_value)
        )
        return [Problem(path, f"expected {expected}, got {_type_name(value)}", f"make it {expected}", severity)]
    return [Problem(path, error.message, "see SPEC §6 for the caption format", severity)]
