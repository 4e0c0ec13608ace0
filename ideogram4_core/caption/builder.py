"""The Caption Builder node's logic, free of ComfyUI: document in, canonical caption and status lines out.

The node's document widget holds JSON text: ``{"caption": <caption object or text>, "editor": <any>}``;
a bare caption (object or text) is accepted too, and an empty string means "no caption yet". ``editor`` is
the web widget's own state and is never read here, so whatever the output should contain must be in
``caption``. The one other key read here is ``"edit_elements"``: the 1-based element numbers ticked for
re-rendering (``[2, 5]``), output as the text ``"2,5"`` for the element mask. A non-empty
``import_text`` (the optional upstream caption input) replaces the document's caption.

Strict mode verifies the caption as given and raises on any error. Otherwise the forgiving import repairs
what it safely can and the result is output even if problems remain; they are listed in the status lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import CaptionError
from ..sampling.sizes import check_size
from .check import CaptionCheck, check_caption
from .lint import lint
from .problems import errors
from .tokens import MAX_TOKENS


@dataclass
class BuildResult:
    """The canonical caption to output, the size, and the lines to show on the node."""

    caption: str
    width: int
    height: int
    lines: list[str]
    check: CaptionCheck
    edit_elements: str = ""


def document_caption_text(document: str) -> str:
    """The caption text held by a node document (see the module docstring)."""
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError:
        return document
    if isinstance(parsed, dict) and "caption" in parsed:
        caption = parsed["caption"]
        return caption if isinstance(caption, str) else json.dumps(caption, ensure_ascii=False)
    return document


def document_edit_elements(document: str, element_count: int) -> str:
    """The document's ticked element numbers as ``"2,5"``: sorted, distinct, only those that exist."""
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError:
        return ""
    ticked = parsed.get("edit_elements") if isinstance(parsed, dict) else None
    if not isinstance(ticked, list):
        return ""
    numbers = {n for n in ticked if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= element_count}
    return ",".join(str(n) for n in sorted(numbers))


def build_caption(
    document: str,
    width: int,
    height: int,
    *,
    strict: bool,
    import_text: str = "",
    tokenizer_dir: str | Path | None = None,
) -> BuildResult:
    """Turn the node's inputs into its outputs; raises CaptionError / Ideogram4Error with the reasons."""
    check_size(width, height)
    source = import_text if import_text.strip() else document_caption_text(document)
    if not source.strip():
        raise CaptionError("The caption is empty: draw elements in the editor or connect a caption to import.")
    check = check_caption(source, tokenizer_dir=tokenizer_dir, image_size=(width, height))
    if strict and not check.valid:
        lines = ["The caption is invalid (strict mode):", *(p.line() for p in errors(check.problems))]
        if check.imported.repairs:
            lines += ["Without strict mode these repairs would be made:", *(r.line() for r in check.imported.repairs)]
        raise CaptionError("\n".join(lines))
    if check.imported.caption is None:
        raise CaptionError("\n".join(["The caption cannot be read:", *(p.line() for p in check.problems)]))
    shown = check.problems if strict else [*check.imported.repairs, *check.canonical_problems]
    canonical = json.loads(check.canonical)
    shown += lint(canonical, width, height)
    lines = [item.line() for item in shown] + [f"tokens: {check.tokens.label} of {MAX_TOKENS}"]
    elements = canonical.get("compositional_deconstruction", {}).get("elements", [])
    edit = "" if import_text.strip() else document_edit_elements(document, len(elements))
    return BuildResult(check.canonical, width, height, lines, check, edit)
