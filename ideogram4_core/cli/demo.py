"""``python -m ideogram4_core demo``: the whole pipeline on a tiny random model (no weights needed)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..demo import DEMO_CAPTION, write_demo_model
from ..pipeline import ModelPaths
from .generate import add_render_options, render


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``demo`` sub-command."""
    demo = subparsers.add_parser("demo", help="run the whole pipeline on a tiny random model (no weights needed)")
    add_render_options(demo, width=256, height=256, default_preset="V4_TURBO_12")
    demo.set_defaults(run=_run_demo)
    return demo


def _run_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="ideogram4-demo-") as folder:
        return render(args, ModelPaths.from_folder(write_demo_model(Path(folder))), DEMO_CAPTION)
