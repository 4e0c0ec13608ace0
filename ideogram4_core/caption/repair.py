"""Structural repairs of a parsed caption (the second half of the forgiving import).

Renames known alias keys, moves loose top-level keys into their container, drops the "v15" dialect's
``aspect_ratio``, converts clearly marked boxes (see ``boxes``), and normalises colours (upper case,
``#abc`` → ``#AABBCC``, missing ``#``, comma-separated strings). Each change becomes a Repair; each case it
will not guess (two spellings of one key, an unmarked box format) becomes an error Problem at its path.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .aliases import ELEMENT_KEY_ALIASES, STYLE_KEY_ALIASES, TEXT_KEY_ALIASES, TYPE_VALUE_ALIASES
from .boxes import FORMATS, KJ_KEYS, NORMALIZED_KEYS, BoxError, BoxMarkers, box_sources, convert_box, describe
from .canonical import STYLE_ORDER
from .problems import Problem, Repair, join_path

_HEX = re.compile(r"#([0-9a-fA-F]{3})|#?([0-9a-fA-F]{6})")
_OPTIONAL_KEYS = ("high_level_description", "style_description", "bbox", "color_palette")
_ELEMENTS = "compositional_deconstruction.elements"
BOX_FIX = 'write "bbox": [y_min, x_min, y_max, x_max] in 0..1000, or mark the format (see ideogram4_core.caption.boxes)'


@dataclass
class RepairOutcome:
    """The repaired caption, what was changed, and what could not be repaired without guessing."""

    caption: Any
    repairs: list[Repair] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def fix(self, path: str, message: str) -> None:
        self.repairs.append(Repair(path, message))

    def refuse(self, path: str, message: str, fix: str) -> None:
        self.problems.append(Problem(path, message, fix))


def repair_caption(value: Any, image_size: tuple[int, int] | None = None) -> RepairOutcome:
    """Repair a parsed caption; ``image_size`` (width, height) enables pixel-box conversion."""
    out = RepairOutcome(copy.deepcopy(value))
    caption = out.caption
    if not isinstance(caption, dict):
        return out
    if "aspect_ratio" in caption:
        caption.pop("aspect_ratio")
        out.fix("aspect_ratio", 'removed "aspect_ratio" ("v15" dialect): the image size comes from width and height')
    markers = _pop_markers(caption, "", BoxMarkers(), out)
    _drop_nulls(caption, "", out)
    _move_into(caption, "compositional_deconstruction", ("background", "elements"), out)
    _move_into(caption, "style_description", tuple(k for k in STYLE_ORDER if k != "color_palette"), out)
    style = caption.get("style_description")
    if isinstance(style, dict):
        _rename(style, STYLE_KEY_ALIASES, "style_description", out)
        _fix_palette(style, "style_description", out)
    composition = caption.get("compositional_deconstruction")
    elements = composition.get("elements") if isinstance(composition, dict) else None
    for i, element in enumerate(elements if isinstance(elements, list) else []):
        if isinstance(element, dict):
            _repair_element(element, f"{_ELEMENTS}[{i}]", markers, image_size, out)
    return out


def _repair_element(
    element: dict[str, Any], path: str, markers: BoxMarkers, image_size: tuple[int, int] | None, out: RepairOutcome
) -> None:
    _rename(element, ELEMENT_KEY_ALIASES, path, out)
    kind = element.get("type")
    if isinstance(kind, str):
        fixed = TYPE_VALUE_ALIASES.get(kind.strip().lower(), kind.strip().lower())
        if fixed != kind and fixed in ("obj", "text"):
            element["type"] = fixed
            out.fix(join_path(path, "type"), f'changed type {json.dumps(kind)} to "{fixed}"')
    if element.get("type") == "text":
        _rename(element, TEXT_KEY_ALIASES, path, out)
    _drop_nulls(element, path, out)
    _repair_box(element, path, _pop_markers(element, path, markers, out), image_size, out)
    _fix_palette(element, path, out)


def _repair_box(
    element: dict[str, Any], path: str, markers: BoxMarkers, image_size: tuple[int, int] | None, out: RepairOutcome
) -> None:
    if element.pop("nobbox", False) is True:
        for key in KJ_KEYS:
            element.pop(key, None)
        out.fix(path, "KJNodes element marked as unplaced (nobbox): written without a bbox")
    sources = box_sources(element)
    if len(sources) > 1:
        out.refuse(path, f"several boxes ({', '.join(sources)})", "keep exactly one bbox")
        return
    if not sources:
        return
    source = sources[0]
    if source == "bbox" and markers == BoxMarkers():
        _integral_floats(element, join_path(path, "bbox"), out)
        return
    try:
        box = convert_box(source, element, markers, image_size)
    except BoxError as exc:
        out.refuse(join_path(path, source.split("/")[0]), str(exc), BOX_FIX)
        return
    for key in source.split("/"):
        element.pop(key, None)
    element["bbox"] = box
    out.fix(join_path(path, "bbox"), f"converted {describe(source, markers)} to bbox {box}")


def _integral_floats(element: dict[str, Any], path: str, out: RepairOutcome) -> None:
    bbox = element["bbox"]
    if isinstance(bbox, list) and any(isinstance(v, float) and math.isfinite(v) and v.is_integer() for v in bbox):
        element["bbox"] = [int(v) if isinstance(v, float) and math.isfinite(v) and v.is_integer() else v for v in bbox]
        out.fix(path, "wrote whole-number bbox values as integers")


def _pop_markers(obj: dict[str, Any], path: str, inherited: BoxMarkers, out: RepairOutcome) -> BoxMarkers:
    fmt, normalized = inherited.format, inherited.normalized
    if "bbox_format" in obj:
        value = obj.pop("bbox_format")
        if value in FORMATS:
            fmt = value
            out.fix(join_path(path, "bbox_format"), f'used the box marker bbox_format="{value}" and removed it')
        else:
            where = join_path(path, "bbox_format")
            out.refuse(where, f"unknown bbox_format {value!r}", f"use one of {', '.join(FORMATS)}")
    for key in NORMALIZED_KEYS:
        if key in obj:
            value = obj.pop(key)
            if isinstance(value, bool):
                normalized = value
                out.fix(join_path(path, key), f"used the box marker {key}={json.dumps(value)} and removed it")
            else:
                out.refuse(join_path(path, key), f"{key} must be true or false, got {value!r}", "write true or false")
    return BoxMarkers(fmt, normalized)


def _drop_nulls(obj: dict[str, Any], path: str, out: RepairOutcome) -> None:
    for key in _OPTIONAL_KEYS:
        if key in obj and obj[key] is None:
            del obj[key]
            out.fix(join_path(path, key), f'removed "{key}": null (the key is optional)')


def _move_into(caption: dict[str, Any], container: str, keys: tuple[str, ...], out: RepairOutcome) -> None:
    loose = [key for key in keys if key in caption]
    if not loose:
        return
    target = caption.setdefault(container, {})
    if not isinstance(target, dict):
        return
    for key in loose:
        if key in target:
            out.refuse(key, f'"{key}" appears both at the top level and in {container}', "keep one of them")
        else:
            target[key] = caption.pop(key)
            out.fix(key, f'moved top-level "{key}" into {container}')


def _rename(obj: dict[str, Any], table: dict[str, str], path: str, out: RepairOutcome) -> None:
    for alias, target in table.items():
        if alias not in obj:
            continue
        if target in obj:
            out.refuse(join_path(path, alias), f'both "{alias}" and "{target}" are present', f'keep only "{target}"')
        else:
            obj[target] = obj.pop(alias)
            out.fix(join_path(path, alias), f'renamed "{alias}" to "{target}"')


def _fix_palette(obj: dict[str, Any], path: str, out: RepairOutcome) -> None:
    palette = obj.get("color_palette")
    where = join_path(path, "color_palette")
    if isinstance(palette, str):
        palette = [c for c in re.split(r"[,;\s]+", palette) if c]
        obj["color_palette"] = palette
        out.fix(where, "split a comma-separated colour string into a list")
    if not isinstance(palette, list):
        return
    fixed = [_normalize_hex(c) for c in palette]
    changed = sum(1 for old, new in zip(palette, fixed, strict=True) if new != old)
    if changed:
        obj["color_palette"] = fixed
        out.fix(where, f"normalised {changed} colour(s) to upper-case #RRGGBB")


def _normalize_hex(color: Any) -> Any:
    if not isinstance(color, str):
        return color
    match = _HEX.fullmatch(color.strip())
    if not match:
        return color
    short, full = match.groups()
    return "#" + (full or "".join(ch * 2 for ch in short)).upper()
