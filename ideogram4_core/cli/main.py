"""Command line: `python -m ideogram4_core generate|demo|validate|inspect|magic-prompt|batch …` (DESIGN.md)."""

from __future__ import annotations

import argparse
import sys

import torch

from ..errors import Ideogram4Error
from . import batch, demo, generate, inspect, magic_prompt, validate


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except Ideogram4Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except torch.OutOfMemoryError:
        print(
            "error: out of memory. Use a smaller size, --dtype bf16, the fp8/nf4 weights, or --device cpu.",
            file=sys.stderr,
        )
        return 3
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ideogram4_core", description="Run Ideogram 4 locally.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (generate, demo, validate, inspect, magic_prompt, batch):
        command.add_parser(commands)
    return parser
