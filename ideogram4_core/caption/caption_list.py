"""A pasted list of captions → caption strings: a JSON array, one JSON caption (possibly over several lines), or
one caption per line (JSONL).

Per line: a JSON object is a caption (or, when it has a `"caption"` field, a batch job whose caption is used),
a JSON string is that text, anything else is a plain-text caption; blank lines and lines starting with `#` are
skipped. Caption objects come out in canonical form (`dumps_canonical`), as batch jobs send them; text is kept
verbatim. Every bad line is reported, by line number, in one `CaptionError`.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import CaptionError
from .canonical import dumps_canonical

MAX_REPORTED = 10


def parse_caption_list(text: str) -> list[str]:
    """The captions in `text`, in order; CaptionError naming every bad line (or array item)."""
    whole = _whole_json(text)
    if isinstance(whole, list):
        captions, problems = _array(whole)
    elif isinstance(whole, dict):
        captions, problems = _items([(1, whole)], "line")
    else:
        captions, problems = _lines(text)
    if problems:
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append(f"… and {len(problems) - MAX_REPORTED} more")
        raise CaptionError(
            f"The caption list has {len(problems)} bad {'entry' if len(problems) == 1 else 'entries'}: "
            f"{'; '.join(shown)}. Give one caption per line (a JSON object or plain text), or a JSON array."
        )
    if not captions:
        raise CaptionError("The caption list is empty. Write one caption per line (JSON or plain text).")
    return captions


def _whole_json(text: str) -> Any:
    """The text as one JSON value when it is a JSON array or object (a multi-line caption), else None."""
    stripped = text.strip()
    if not stripped.startswith(("[", "{")):
        return None
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        if stripped.startswith("["):
            raise CaptionError(
                f"The caption list is not a valid JSON array: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
                "Fix it, or give one caption per line instead."
            ) from None
        return None  # several objects, one per line: JSONL


def _array(items: list[Any]) -> tuple[list[str], list[str]]:
    return _items(list(enumerate(items, start=1)), "item")


def _lines(text: str) -> tuple[list[str], list[str]]:
    entries: list[tuple[int, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not stripped.startswith(("{", '"', "[")):
            entries.append((number, stripped))
            continue
        try:
            entries.append((number, json.loads(stripped)))
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
    captions, bad = _items(entries, "line")
    return captions, sorted(problems + bad, key=_number)


def _items(entries: list[tuple[int, Any]], label: str) -> tuple[list[str], list[str]]:
    captions, problems = [], []
    for number, value in entries:
        if isinstance(value, dict) and "caption" in value and "compositional_deconstruction" not in value:
            value = value["caption"]  # a batch job line
        if isinstance(value, dict):
            captions.append(dumps_canonical(value))
        elif isinstance(value, str) and value.strip():
            captions.append(value)
        else:
            what = "an empty caption" if isinstance(value, str) else f"{_json_kind(value)}, not a caption"
            problems.append(f"{label} {number}: {what}")
    return captions, problems


def _json_kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return f"JSON {json.dumps(value)}"
    return "a JSON array" if isinstance(value, list) else "a JSON number"


def _number(problem: str) -> int:
    return int(problem.split(":")[0].split()[-1])
