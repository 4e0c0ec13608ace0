"""Decoding caption JSON text strictly: duplicate keys and runaway nesting become problems, never tracebacks.

``json.loads`` keeps the last of duplicate keys silently and recurses once per nesting level, so hostile text
(100 000 nested brackets) ends in a ``RecursionError``. `decode` reports both as `Problem`s with their paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .problems import PathPart, Problem, format_path

MAX_DEPTH = 32  # a caption nests 5 levels (root → compositional_deconstruction → elements → element → bbox)


class _Object(dict):
    """A decoded JSON object that remembers which of its keys appeared more than once."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj.duplicates = tuple(dict.fromkeys(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


@dataclass
class Decoded:
    """The decoded value (``None`` when it cannot be used) and what is wrong with the text's structure."""

    value: Any
    problems: list[Problem] = field(default_factory=list)


def decode(text: str) -> Decoded:
    """Decode JSON text. Raises ``json.JSONDecodeError`` for syntax errors; depth and duplicates are problems."""
    try:
        value = json.loads(text, object_pairs_hook=_object)
    except RecursionError:
        return Decoded(None, [_too_deep()])
    problems: list[Problem] = []
    stack: list[tuple[Any, tuple[PathPart, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return Decoded(None, [_too_deep()])
        if isinstance(node, dict):
            problems += [_duplicate(path, key) for key in getattr(node, "duplicates", ())]
            stack += [(child, (*path, key)) for key, child in node.items()]
        elif isinstance(node, list):
            stack += [(child, (*path, i)) for i, child in enumerate(node)]
    return Decoded(value, sorted(problems, key=lambda p: p.path))


def _too_deep() -> Problem:
    return Problem(
        "",
        f"the JSON is nested too deeply (more than {MAX_DEPTH} levels; a caption needs 5)",
        "remove the extra brackets; a caption is one object holding compositional_deconstruction.elements",
    )


def _duplicate(path: tuple[PathPart, ...], key: str) -> Problem:
    return Problem(
        format_path(path),
        f'the key "{key}" appears more than once (JSON keeps only the last value)',
        f'keep one "{key}" and delete the others',
    )
