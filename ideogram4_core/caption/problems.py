"""Problem and repair records shared by the verifier, the importer and the check endpoint.

Paths use dotted keys and ``[i]`` indices from the caption root, e.g.
``compositional_deconstruction.elements[2].bbox``; the empty string means the caption as a whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]
PathPart = str | int

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def format_path(parts: Iterable[PathPart]) -> str:
    """Join keys and indices into a readable JSON path (``a.b[2].c``)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def join_path(path: str, part: PathPart) -> str:
    """Extend an already formatted path by one key or index."""
    tail = format_path([part])
    if path and not tail.startswith("["):
        return f"{path}.{tail}"
    return path + tail


@dataclass(frozen=True)
class Problem:
    """Something wrong with a caption: where, what, and how to fix it."""

    path: str
    message: str
    fix: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        """One human-readable line, e.g. for the CLI or a node's status text."""
        where = self.path or "(caption)"
        return f"{self.severity}: {where}: {self.message} — fix: {self.fix}"


@dataclass(frozen=True)
class Repair:
    """A change the forgiving import made (or would make) to a caption."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        return f"repair: {self.path or '(caption)'}: {self.message}"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that make a caption invalid (warnings excluded)."""
    return [p for p in problems if p.severity == "error"]
