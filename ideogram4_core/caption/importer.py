"""The forgiving import: lenient parsing, structural repairs, canonical key order, then strict verification."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .canonical import canonicalize
from .lenient_json import parse_lenient
from .problems import Problem, Repair, errors
from .repair import repair_caption
from .verify import verify


@dataclass
class ImportResult:
    """The repaired caption in canonical key order (``None`` if the text is not JSON), and what remains wrong."""

    caption: Any
    repairs: list[Repair] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.caption is not None and not errors(self.problems)


def import_caption(text: str, image_size: tuple[int, int] | None = None) -> ImportResult:
    """Import caption text written by a person, an LLM or another editor; report every change made."""
    parsed = parse_lenient(text)
    if parsed.error is not None:
        return ImportResult(None, parsed.repairs, [parsed.error])
    outcome = repair_caption(parsed.value, image_size)
    caption = canonicalize(outcome.caption)
    repairs = parsed.repairs + outcome.repairs
    if json.dumps(caption) != json.dumps(outcome.caption):
        repairs.append(Repair("", "put the keys in the canonical order"))
    refused = {p.path for p in outcome.problems}
    return ImportResult(caption, repairs, outcome.problems + [p for p in verify(caption) if p.path not in refused])
