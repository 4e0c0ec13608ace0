"""One call that answers everything about a caption text: the engine side of ``POST /ideogram4/caption/check``.

Request body: ``{"caption": <caption text or caption object>, "width"?: int, "height"?: int}`` (the size
only enables importing ComfyUI pixel boxes). Response (200)::

    {"valid": bool,                 # strict verdict on the caption as given (official verifier's rules)
     "problems": [{"path", "message", "fix", "severity"}],   # of the caption as given
     "repairs": [{"path", "message"}],                       # what the forgiving import changes
     "canonical": str,              # the repaired caption, canonical and minified ("" if not JSON)
     "canonical_valid": bool,       # verdict on "canonical"
     "canonical_problems": [...],   # what is still wrong after the repairs
     "tokens": {"count", "exact", "label", "limit", "note"}}  # of "canonical" ("≈" label when estimated)

A malformed request gets status 400 and ``{"error": str}``. Paths: see ``problems``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .canonical import dumps_canonical
from .importer import ImportResult, import_caption
from .problems import Problem, errors
from .tokens import MAX_TOKENS, TokenCount, count_tokens, surely_too_long
from .verify import Verification, verify_text


@dataclass
class CaptionCheck:
    """The strict verdict on a caption text, its forgiving import, and the token count of the result."""

    given: Verification
    imported: ImportResult
    canonical: str
    tokens: TokenCount

    @property
    def problems(self) -> list[Problem]:
        return self.given.problems + self._token_problems()

    @property
    def canonical_problems(self) -> list[Problem]:
        return self.imported.problems + self._token_problems()

    @property
    def valid(self) -> bool:
        return not errors(self.problems)

    @property
    def canonical_valid(self) -> bool:
        return self.imported.caption is not None and not errors(self.canonical_problems)

    def _token_problems(self) -> list[Problem]:
        if self.tokens.count <= MAX_TOKENS:
            return []
        return [
            Problem(
                "",
                f"the caption is {self.tokens.label} tokens; the model accepts at most {MAX_TOKENS}",
                "shorten the descriptions or remove elements",
                "error" if surely_too_long(self.tokens) else "warning",
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "problems": [p.to_dict() for p in self.problems],
            "repairs": [r.to_dict() for r in self.imported.repairs],
            "canonical": self.canonical,
            "canonical_valid": self.canonical_valid,
            "canonical_problems": [p.to_dict() for p in self.canonical_problems],
            "tokens": self.tokens.to_dict(),
        }


def check_caption(
    text: str, *, tokenizer_dir: str | Path | None = None, image_size: tuple[int, int] | None = None
) -> CaptionCheck:
    """Verify ``text`` as given, import it forgivingly, and count the tokens of the canonical result."""
    imported = import_caption(text, image_size)
    canonical = dumps_canonical(imported.caption) if imported.caption is not None else ""
    return CaptionCheck(verify_text(text), imported, canonical, count_tokens(canonical or text, tokenizer_dir))


def check_request(body: Any, *, tokenizer_dir: str | Path | None = None) -> tuple[int, dict[str, Any]]:
    """Handle a decoded request body; returns (HTTP status, JSON-ready response)."""
    if not isinstance(body, dict) or "caption" not in body:
        return 400, {"error": 'expected a JSON object with a "caption" field'}
    caption = body["caption"]
    text = caption if isinstance(caption, str) else json.dumps(caption, ensure_ascii=False)
    size = (body.get("width"), body.get("height"))
    if size == (None, None):
        image_size = None
    elif all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        image_size = (size[0], size[1])
    else:
        return 400, {"error": '"width" and "height" must both be positive integers when given'}
    return 200, check_caption(text, tokenizer_dir=tokenizer_dir, image_size=image_size).to_dict()
