"""Forgiving JSON parsing for captions written by LLMs or pasted from chats.

Tried in order, each only when the text still fails to parse: take the object out of a Markdown code
fence or surrounding prose; turn smart quotes used as JSON quotes into straight ones and drop trailing
commas (quotes inside strings are left alone); decode a caption that was JSON-encoded twice.
Every change is reported as a Repair; anything else stays a parse error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .json_text import decode
from .problems import Problem, Repair
from .verify import json_error_problem

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_OPEN_QUOTES = "“„‟"
_CLOSE_QUOTES = "”"


@dataclass
class LenientParse:
    """The parsed value (``None`` on failure), the repairs made, and the parse error if any."""

    value: Any = None
    repairs: list[Repair] = field(default_factory=list)
    error: Problem | None = None


def parse_lenient(text: str) -> LenientParse:
    """Parse caption text, repairing the common syntax slips of LLM output."""
    result = LenientParse()
    candidate = text.strip().lstrip("\ufeff")
    try:
        decoded = decode(candidate)
    except json.JSONDecodeError:
        candidate = _extract_object(candidate, result.repairs)
        candidate = _fix_syntax(candidate, result.repairs)
        try:
            decoded = decode(candidate)
        except json.JSONDecodeError as exc:
            result.error = json_error_problem(exc)
            return result
    if decoded.value is None:
        result.error = decoded.problems[0]
        return result
    result.value = decoded.value
    result.repairs += [Repair(p.path, f"{p.message}; kept the last") for p in decoded.problems]
    if isinstance(result.value, str) and result.value.lstrip().startswith("{"):
        try:
            inner = decode(result.value)
        except json.JSONDecodeError:
            return result
        if inner.value is None:
            result.error = inner.problems[0]
            return result
        result.value = inner.value
        result.repairs.append(Repair("", "decoded a caption that was JSON-encoded twice (a string holding JSON)"))
    return result


def _extract_object(text: str, repairs: list[Repair]) -> str:
    fence = _FENCE.search(text)
    if fence:
        text = fence.group(1).strip()
        repairs.append(Repair("", "removed the Markdown code fence around the JSON"))
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end and (start > 0 or end < len(text) - 1):
        text = text[start : end + 1]
        repairs.append(Repair("", "removed the text before/after the JSON object"))
    return text


def _fix_syntax(text: str, repairs: list[Repair]) -> str:
    """Replace smart quotes that delimit strings and drop commas before } or ], outside strings only."""
    out: list[str] = []
    quotes = commas = 0
    closer = ""  # characters that close the current string; empty when outside a string
    i = 0
    while i < len(text):
        ch = text[i]
        if closer:
            if ch == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            if ch in closer:
                quotes += ch != '"'
                ch, closer = '"', ""
        elif ch == '"':
            closer = '"'
        elif ch in _OPEN_QUOTES or ch in _CLOSE_QUOTES:
            quotes += 1
            ch, closer = '"', _CLOSE_QUOTES + _OPEN_QUOTES + '"'
        elif ch == "," and text[i + 1 :].lstrip()[:1] in ("}", "]"):
            commas += 1
            ch = ""
        out.append(ch)
        i += 1
    if quotes:
        repairs.append(Repair("", f"replaced {quotes} typographic quote(s) used as JSON quotes with straight quotes"))
    if commas:
        repairs.append(Repair("", f"removed {commas} trailing comma(s)"))
    return "".join(out)
