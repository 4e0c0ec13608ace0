"""Caption rules that JSON Schema cannot express (SPEC §6, as the official CaptionVerifier checks them).

Three engine rules go beyond the official verifier (its verdict would let these through, but they describe
nothing): an empty caption, an empty literal text and a zero-area box are errors.

Each check only looks at parts whose shape the schema accepts, so a broken part gets one problem, not many.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .canonical import COMPOSITION_ORDER, ELEMENT_ORDER, STYLE_ORDER, TOP_LEVEL_ORDER
from .problems import Problem, Severity, join_path

# \uXXXX escapes of code points >= U+0080 (a sign the writer used ensure_ascii=True).
_NON_ASCII_ESCAPE = re.compile(r"\\u(?!00[0-7])[0-9a-fA-F]{4}")
_ELEMENTS_PATH = "compositional_deconstruction.elements"
# Blank text: only these space characters (the JS twin, web/lib/validator.mjs, uses the same list).
_BLANK = re.compile("[ \t\n\r\f\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*")


def rule_problems(caption: Any) -> list[Problem]:
    """Key order, photo/art_style exclusivity and bbox geometry problems of a parsed caption."""
    if not isinstance(caption, dict):
        return []
    problems = list(_order_problems(caption, TOP_LEVEL_ORDER, "", "warning"))
    style = caption.get("style_description")
    if isinstance(style, dict):
        problems += _style_problems(style)
    composition = caption.get("compositional_deconstruction")
    if isinstance(composition, dict):
        problems += _order_problems(composition, COMPOSITION_ORDER, "compositional_deconstruction")
        elements = composition.get("elements")
        for i, element in enumerate(elements if isinstance(elements, list) else []):
            if isinstance(element, dict) and element.get("type") in ("obj", "text"):
                problems += _element_problems(element, f"{_ELEMENTS_PATH}[{i}]")
    if _describes_nothing(caption):
        problems.append(
            Problem(
                "",
                "the caption is empty: no elements, no background and no high-level description",
                "describe the image: add elements, a background or a high-level description",
            )
        )
    return problems


def is_blank(value: Any) -> bool:
    return isinstance(value, str) and _BLANK.fullmatch(value) is not None


def _describes_nothing(caption: dict[str, Any]) -> bool:
    """True for a well-formed caption with nothing in it (engine rule; the official verifier accepts it)."""
    composition = caption.get("compositional_deconstruction")
    if not isinstance(composition, dict) or composition.get("elements") != []:
        return False
    high = caption.get("high_level_description", "")
    return is_blank(composition.get("background")) and is_blank(high)


def raw_text_problems(raw: str) -> list[Problem]:
    """Warnings about the serialised text itself (not its content)."""
    escapes = _NON_ASCII_ESCAPE.findall(raw)
    if not escapes or any(ord(ch) > 0x7F for ch in raw):
        return []
    examples = ", ".join(sorted(set(escapes))[:3])
    return [
        Problem(
            "",
            f"non-ASCII characters are written as {len(escapes)} \\uXXXX escape(s) (e.g. {examples})",
            "save with ensure_ascii=False so they appear as literal characters (the canonical form does this); "
            "generation still runs",
            "warning",
        )
    ]


def _order_problems(
    obj: dict[str, Any], order: tuple[str, ...], path: str, severity: Severity = "error"
) -> Iterator[Problem]:
    present = [key for key in obj if key in order]
    expected = [key for key in order if key in obj]
    if present != expected:
        where = "top-level keys (not checked by the reference verifier)" if not path else "keys"
        yield Problem(
            path,
            f"{where} are in the wrong order: {', '.join(present)}",
            f"write them as {', '.join(expected)} (the canonical serialisation does this)",
            severity,
        )


def _style_problems(style: dict[str, Any]) -> list[Problem]:
    has_photo, has_art = "photo" in style, "art_style" in style
    if has_photo and has_art:
        return [
            Problem(
                "style_description",
                'has both "photo" and "art_style"',
                'keep "photo" for photographs or "art_style" for everything else, not both',
            )
        ]
    if not has_photo and not has_art:
        return [
            Problem(
                "style_description",
                'needs exactly one of "photo" (photographs) or "art_style" (everything else)',
                'add "photo": "<camera, lens, film…>" or "art_style": "<style>"',
            )
        ]
    return list(_order_problems(style, STYLE_ORDER, "style_description"))


def _element_problems(element: dict[str, Any], path: str) -> list[Problem]:
    problems = list(_order_problems(element, ELEMENT_ORDER, path))
    if element["type"] == "text" and is_blank(element.get("text")):
        problems.append(
            Problem(
                join_path(path, "text"),
                "the literal text is empty",
                'write the exact words to render, or change the type to "obj"',
            )
        )
    bbox = element.get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox):
        problems += _bbox_problems(bbox, join_path(path, "bbox"))
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bbox_problems(bbox: list[float], path: str) -> list[Problem]:
    problems = [
        Problem(
            join_path(path, i),
            f"bbox value {v!r} is written with a decimal point",
            f"write it as the integer {int(v)}",
        )
        for i, v in enumerate(bbox)
        if isinstance(v, float) and v.is_integer()
    ]
    y_min, x_min, y_max, x_max = bbox
    for axis, low, high in (("y", y_min, y_max), ("x", x_min, x_max)):
        if low > high:
            problems.append(
                Problem(
                    path,
                    f"{axis}_min ({low:g}) is greater than {axis}_max ({high:g})",
                    "boxes are [y_min, x_min, y_max, x_max] with the origin at the top-left; swap the two values "
                    "(or check whether x and y were exchanged)",
                )
            )
        elif low == high:
            problems.append(
                Problem(
                    path,
                    f"the box has zero {'height' if axis == 'y' else 'width'} ({axis}_min = {axis}_max = {low:g})",
                    f"give it an area: make {axis}_max greater than {axis}_min",
                )
            )
    return problems
