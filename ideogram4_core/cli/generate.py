"""``python -m ideogram4_core generate``: render a caption with real weights (contract in DESIGN.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..devices import resolve_device, resolve_dtype
from ..errors import Ideogram4Error
from ..pipeline import GenerationResult, Ideogram4Pipeline, ModelPaths
from ..png_metadata import png_info
from ..sampling.schedule import OVERRIDABLE, PRESETS, SamplingSettings, settings_from


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``generate`` sub-command."""
    generate = subparsers.add_parser("generate", help="render a caption with real weights")
    add_model_options(generate)
    caption = generate.add_mutually_exclusive_group(required=True)
    caption.add_argument("--caption", help="caption text (ideally the JSON caption)")
    caption.add_argument("--caption-file", type=Path, help="file holding the caption")
    add_render_options(generate)
    generate.set_defaults(run=_run_generate)
    return generate


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model DIR or the component paths (read back with `model_paths`)."""
    source = parser.add_argument_group("model (either --model or the component paths)")
    source.add_argument("--model", type=Path, help="official repo folder (transformer/, text_encoder/, vae/, …)")
    source.add_argument("--transformer", type=Path, help="conditional transformer folder or .safetensors")
    source.add_argument("--unconditional-transformer", type=Path, help="unconditional transformer")
    source.add_argument("--text-encoder", type=Path, help="Qwen3-VL text encoder folder or file")
    source.add_argument("--tokenizer", type=Path, help="tokenizer folder (default: next to the text encoder)")
    source.add_argument("--vae", type=Path, help="FLUX.2 VAE folder or .safetensors")


def add_settings_options(parser: argparse.ArgumentParser, default_preset: str = "") -> None:
    """--preset and the explicit sampling settings laid over it (read back with `settings_from_args`)."""
    parser.add_argument("--preset", choices=sorted(PRESETS), type=str.upper, default=default_preset or None)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--guidance", type=float)
    parser.add_argument("--polish-steps", type=int)
    parser.add_argument("--polish-guidance", type=float)
    parser.add_argument("--mu", type=float)
    parser.add_argument("--std", type=float)


def add_device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp16", "fp32"])


def add_render_options(
    parser: argparse.ArgumentParser, width: int | None = None, height: int | None = None, default_preset: str = ""
) -> None:
    parser.add_argument("--width", type=int, required=width is None, default=width)
    parser.add_argument("--height", type=int, required=height is None, default=height)
    parser.add_argument("--seed", type=int, default=0)
    add_settings_options(parser, default_preset)
    parser.add_argument("--batch-size", type=int, default=1)
    add_device_options(parser)
    parser.add_argument("--output", type=Path, required=True, help="PNG path (batches add _1, _2, …)")
    parser.add_argument("--save-latent", type=Path, help="also save the VAE-space latent as safetensors")


def settings_from_args(args: argparse.Namespace) -> SamplingSettings:
    """A preset (default V4_DEFAULT_20) with any explicit values given on the command line laid over it."""
    overrides = {name: getattr(args, name) for name in OVERRIDABLE if getattr(args, name) is not None}
    return settings_from(args.preset, overrides)


def model_paths(args: argparse.Namespace) -> ModelPaths:
    components = (args.transformer, args.unconditional_transformer, args.text_encoder, args.vae)
    if args.model is not None:
        if any(components):
            raise Ideogram4Error("Give either --model or the component paths, not both.")
        return ModelPaths.from_folder(args.model)
    required = {"--transformer": args.transformer, "--text-encoder": args.text_encoder, "--vae": args.vae}
    missing = [flag for flag, value in required.items() if value is None]
    if missing:
        raise Ideogram4Error(f"Missing {', '.join(missing)}: give --model DIR or every component path.")
    return ModelPaths(args.transformer, args.unconditional_transformer, args.text_encoder, args.vae, args.tokenizer)


def _read_caption(args: argparse.Namespace) -> str:
    if args.caption is not None:
        return args.caption
    try:
        return args.caption_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Ideogram4Error(f"Cannot read the caption file {args.caption_file}: {exc}.") from None


def _run_generate(args: argparse.Namespace) -> int:
    return render(args, model_paths(args), _read_caption(args))


def render(args: argparse.Namespace, paths: ModelPaths, caption: str) -> int:
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    settings = settings_from_args(args)
    print(f"{args.width}×{args.height}, seed {args.seed}, {settings.describe()} on {device} ({dtype})", file=sys.stderr)
    pipeline = Ideogram4Pipeline(paths, device=device, dtype=dtype)
    started = time.perf_counter()
    result = pipeline.generate(
        caption,
        width=args.width,
        height=args.height,
        seed=args.seed,
        settings=settings,
        batch_size=args.batch_size,
        callback=_print_progress,
    )
    _write_outputs(args, result, caption, settings)
    print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def _print_progress(step: int, total: int, latent: torch.Tensor, denoised: torch.Tensor) -> None:
    last_or_logged = step + 1 == total or not sys.stderr.isatty()
    print(f"\rstep {step + 1}/{total}", end="\n" if last_or_logged else "", file=sys.stderr, flush=True)


def output_paths(output: Path, count: int) -> list[Path]:
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}_{i}{output.suffix or '.png'}") for i in range(1, count + 1)]


def _write_outputs(
    args: argparse.Namespace, result: GenerationResult, caption: str, settings: SamplingSettings
) -> None:
    info = png_info(caption, args.seed, settings)
    for path, image in zip(output_paths(args.output, len(result.images)), result.images, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, pnginfo=info)
        print(f"wrote {path}", file=sys.stderr)
    if args.save_latent is not None:
        args.save_latent.parent.mkdir(parents=True, exist_ok=True)
        save_file({"latent": result.latent.contiguous()}, str(args.save_latent))
        print(f"wrote {args.save_latent}", file=sys.stderr)
