"""Strict verification: the verdict the official CaptionVerifier would give, with path-specific problems."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .json_text import decode
from .problems import Problem, errors
from .rules import raw_text_problems, rule_problems
from .schema import schema_problems


@dataclass
class Verification:
    """A caption as parsed (``None`` when the text is not JSON) and everything wrong with it."""

    caption: Any
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not errors(self.problems)


def verify(caption: Any) -> list[Problem]:
    """Check a parsed caption against the schema and the rules it cannot express, grouped by path."""
    return sorted(schema_problems(caption) + rule_problems(caption), key=_path_key)


def _path_key(problem: Problem) -> list[tuple[int, int | str]]:
    return [(0, int(i)) if i else (1, k) for i, k in re.findall(r"\[(\d+)\]|([^.\[\]]+)", problem.path)]


def verify_text(raw: str) -> Verification:
    """Check caption text exactly as given (no repairs): JSON syntax, content and escape style."""
    problems = raw_text_problems(raw)
    try:
        decoded = decode(raw)
    except json.JSONDecodeError as exc:
        return Verification(None, [*problems, json_error_problem(exc)])
    if decoded.value is None:
        return Verification(None, problems + decoded.problems)
    return Verification(decoded.value, sorted(problems + decoded.problems + verify(decoded.value), key=_path_key))


def json_error_problem(exc: json.JSONDecodeError) -> Problem:
    """A parse failure as a Problem on the whole caption."""
    return Problem(
        "",
        f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
        "fix the syntax there (the forgiving import handles code fences, trailing commas and smart quotes)",
    )
