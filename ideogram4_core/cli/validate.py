"""``python -m ideogram4_core validate CAPTION_FILE``: report a caption's problems and the available repairs.

Exit status: 0 valid (warnings allowed), 1 the caption has errors, 2 the file cannot be read.
Wire it with ``add_parser(subparsers)``; the parser's ``run`` default is ``run``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..caption import MAX_TOKENS, CaptionCheck, check_caption, configured_tokenizer_dir

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate",
        help="check a caption file against the Ideogram 4 caption format",
        description="Print a caption's problems (path, what is wrong, how to fix it), the repairs the forgiving "
        "import would make, and its token count. Exit 0 if valid, 1 if it has errors, 2 if unreadable.",
    )
    parser.add_argument("caption_file", metavar="CAPTION_FILE", help="caption JSON file (UTF-8)")
    parser.add_argument("--tokenizer", metavar="DIR", help="Qwen tokenizer folder (default: $IDEOGRAM4_TOKENIZER)")
    parser.add_argument("--json", action="store_true", help="print the full check result as JSON")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Validate ``args.caption_file``; returns the exit status."""
    try:
        text = Path(args.caption_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.caption_file}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    check = check_caption(text, tokenizer_dir=args.tokenizer or configured_tokenizer_dir())
    if args.json:
        print(json.dumps(check.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(check)
    return EXIT_VALID if check.valid else EXIT_INVALID


def _print_report(check: CaptionCheck) -> None:
    for problem in check.problems:
        print(problem.line())
    if check.imported.repairs:
        print("The forgiving import (e.g. the Caption Builder node without strict mode) would:")
        for repair in check.imported.repairs:
            print(f"  {repair.line()}")
        print(f"  → after repair the caption is {'valid' if check.canonical_valid else 'still invalid'}")
    tokens = check.tokens
    print(f"tokens: {tokens.label} of {MAX_TOKENS}" + (f" ({tokens.note})" if tokens.note else ""))
    count = sum(p.severity == "error" for p in check.problems)
    print("valid" if check.valid else f"invalid: {count} error(s)")
