"""``python -m ideogram4_core magic-prompt "IDEA" …``: write a valid, laid-out caption from an idea (or revise
one, or describe a reference image with ``--image``) with the text encoder's Qwen3-VL body and an LM head; the
caption goes to ``--output`` (canonical JSON).

Wire it with ``add_parser(subparsers)``; the parser's ``run`` default is ``run``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..caption.magic_decode import Sampling
from ..caption.magic_prompt import MagicPrompter
from ..devices import resolve_device, resolve_dtype
from ..errors import CaptionError
from ..image_files import load_picture
from ..models.text_encoder import TextEncoder
from .generate import add_device_options

_DEFAULTS = Sampling()


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``magic-prompt`` sub-command."""
    parser = subparsers.add_parser(
        "magic-prompt",
        help="turn an idea into a valid, laid-out caption (local magic prompt)",
        description="Expand an idea (or revise a caption with --revise, or describe --image) into an Ideogram 4 "
        "JSON caption with boxes fitted to the aspect ratio; every output passes the verifier.",
    )
    parser.add_argument("idea", metavar="IDEA", help='the idea, or the change to make with --revise ("" allowed)')
    source = parser.add_argument_group("model (either --model or --text-encoder)")
    source.add_argument(
        "--model", type=Path, help="official repo folder (text_encoder/, tokenizer/, prompt_enhancer_head/)"
    )
    source.add_argument("--text-encoder", type=Path, help="Qwen3-VL text encoder folder or file")
    source.add_argument("--tokenizer", type=Path, help="tokenizer folder (default: next to the text encoder)")
    source.add_argument(
        "--lm-head", type=Path, help="prompt_enhancer_head/ folder, HF Qwen3-VL folder or file with lm_head.weight"
    )
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    parser.add_argument("--temperature", type=float, default=_DEFAULTS.temperature, help="0 = greedy")
    parser.add_argument("--top-p", type=float, default=_DEFAULTS.top_p)
    parser.add_argument("--max-new-tokens", type=int, default=_DEFAULTS.max_new_tokens)
    parser.add_argument(
        "--image", type=Path, help="reference image to describe, IDEA steering it (needs the Qwen3-VL vision tower)"
    )
    parser.add_argument("--revise", type=Path, metavar="CAPTION_FILE", help="caption file to revise as IDEA asks")
    add_device_options(parser)
    parser.add_argument("--output", type=Path, required=True, help="where to write the caption JSON")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Write the caption; returns the exit status (errors raise Ideogram4Error, reported by `main`)."""
    if (args.model is None) == (args.text_encoder is None):
        raise CaptionError("Give either --model DIR or --text-encoder F|DIR.")
    image = load_picture(args.image).rgb if args.image is not None else None
    source = args.model / "text_encoder" if args.model is not None else args.text_encoder
    revise = _read(args.revise) if args.revise is not None else None
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    encoder = TextEncoder.load(source, args.tokenizer, device=device, dtype=dtype)
    prompter = MagicPrompter.from_text_encoder(encoder, args.lm_head, source, dtype)
    sampling = Sampling(args.seed, args.temperature, args.top_p, args.max_new_tokens)
    start = time.perf_counter()
    result = prompter.write(
        args.idea, args.width, args.height, sampling, revise=revise, image=image, progress=_print_progress
    )
    seconds = time.perf_counter() - start
    print(file=sys.stderr)
    args.output.write_text(result.caption + "\n", encoding="utf-8")
    for note in result.notes:
        print(f"note: {note}")
    print(f"{result.tokens} tokens in {seconds:.1f} s ({result.tokens / seconds:.1f} tokens/s), "
          f"{result.attempts} generation(s) → {args.output}")  # fmt: skip
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptionError(f"Cannot read the caption to revise ({path}): {exc}") from None


def _print_progress(done: int, budget: int) -> None:
    print(f"\rtoken {done} (budget {budget})", end="", file=sys.stderr, flush=True)
