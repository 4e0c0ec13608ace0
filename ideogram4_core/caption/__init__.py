"""Ideogram 4 caption tools: schema + rule verification, forgiving import, canonical form, token count.

Public API:
- ``verify(caption) -> list[Problem]`` / ``verify_text(text) -> Verification``: strict, official verdict.
- ``import_caption(text, image_size=None) -> ImportResult``: forgiving import with a list of repairs.
- ``canonicalize(caption)`` / ``dumps_canonical(caption) -> str``: canonical key order, minified, UTF-8.
- ``count_tokens(text, tokenizer_dir=None) -> TokenCount``: exact with a Qwen tokenizer, else "≈" estimate.
- ``check_caption(text, ...) -> CaptionCheck`` / ``check_request(body, ...)``: the check endpoint's logic.
- ``build_caption(document, width, height, ...) -> BuildResult``: the Caption Builder node's logic.
- ``caption_schema()``: the JSON Schema (``caption.schema.json``).
"""

from .builder import BuildResult, build_caption, document_caption_text
from .canonical import canonicalize, dumps_canonical
from .check import CaptionCheck, check_caption, check_request
from .importer import ImportResult, import_caption
from .problems import Problem, Repair, format_path
from .schema import caption_schema
from .tokens import MAX_TOKENS, TokenCount, configured_tokenizer_dir, count_tokens, estimate_tokens
from .verify import Verification, verify, verify_text

__all__ = [
    "MAX_TOKENS",
    "BuildResult",
    "CaptionCheck",
    "ImportResult",
    "Problem",
    "Repair",
    "TokenCount",
    "Verification",
    "build_caption",
    "canonicalize",
    "caption_schema",
    "check_caption",
    "check_request",
    "configured_tokenizer_dir",
    "count_tokens",
    "document_caption_text",
    "dumps_canonical",
    "estimate_tokens",
    "format_path",
    "import_caption",
    "verify",
    "verify_text",
]
