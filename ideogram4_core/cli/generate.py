"""``python -m ideogram4_core generate``: render a caption with real weights (contract in DESIGN.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..devices import resolve_device, resolve_dtype
from ..editing import Edit
from ..errors import Ideogram4Error
from ..pipeline import GenerationResult, Ideogram4Pipeline, ModelPaths
from ..png_metadata import png_info
from ..sampling.fast_modes import FastModes
from ..sampling.schedule import OVERRIDABLE, PRESETS, SamplingSettings, settings_from
from ..weights.lora import LoraChoice, parse_lora_argument
from .editing import add_edit_options, edit_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``generate`` sub-command."""
    generate = subparsers.add_parser("generate", help="render a caption with real weights")
    add_model_options(generate)
    caption = generate.add_mutually_exclusive_group(required=True)
    caption.add_argument("--caption", help="caption text (ideally the JSON caption)")
    caption.add_argument("--caption-file", type=Path, help="file holding the caption")
    add_render_options(generate, size_required=False)
    add_lora_options(generate)
    add_edit_options(generate)
    generate.set_defaults(run=_run_generate)
    return generate


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model DIR or the component paths (read back with `model_paths`)."""
    source = parser.add_argument_group("model (either --model or the component paths)")
    source.add_argument("--model", type=Path, help="official repo folder (transformer/, text_encoder/, vae/, …)")
    source.add_argument("--transformer", type=Path, help="conditional transformer folder or .safetensors")
    source.add_argument("--unconditional-transformer", type=Path, help="unconditional transformer")
    source.add_argument("--text-encoder", type=Path, help="Qwen3-VL text encoder folder or file")
    source.add_argument(
        "--tokenizer",
        type=Path,
        help="tokenizer folder (default: next to the text encoder, else the bundled Qwen tokenizer)",
    )
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


def add_exact_fp8_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--exact-fp8",
        action="store_true",
        help="dequantise fp8 transformer weights per layer (exact, slower) instead of the default fp8 matmuls on "
        "GPUs of compute capability >= 8.9 (elsewhere fp8 weights are always dequantised)",
    )


def add_render_options(
    parser: argparse.ArgumentParser,
    width: int | None = None,
    height: int | None = None,
    default_preset: str = "",
    size_required: bool = True,
) -> None:
    """`size_required` False: --width/--height may be left out (the caller then checks or derives them)."""
    parser.add_argument("--width", type=int, required=size_required and width is None, default=width)
    parser.add_argument("--height", type=int, required=size_required and height is None, default=height)
    parser.add_argument("--seed", type=int, default=0)
    add_settings_options(parser, default_preset)
    parser.add_argument("--batch-size", type=int, default=1)
    add_device_options(parser)
    parser.add_argument("--output", type=Path, required=True, help="PNG path (batches add _1, _2, …)")
    parser.add_argument("--save-latent", type=Path, help="also save the VAE-space latent as safetensors")
    fast = parser.add_argument_group("fast modes (off by default; faster, not exact, see README 'Speed')")
    fast.add_argument(
        "--step-cache",
        type=float,
        default=0.0,
        metavar="THRESHOLD",
        help="skip a step's later blocks when the first block changed less than this (e.g. 0.1)",
    )
    fast.add_argument(
        "--progressive",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="run this fraction of the steps at half resolution (e.g. 0.3)",
    )
    speed = parser.add_argument_group("speed and memory (--compile, --vram-budget: same result up to float rounding)")
    speed.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the transformer blocks (the first run of each size pays the compilation)",
    )
    add_exact_fp8_option(speed)
    speed.add_argument(
        "--vram-budget",
        type=float,
        metavar="GB",
        help="GPU memory (GiB) sampling may use: transformer blocks are streamed when both branches do not fit",
    )


def add_lora_options(parser: argparse.ArgumentParser) -> None:
    loras = parser.add_argument_group("LoRAs (FILE or FILE:STRENGTH, repeatable; strength 1 by default)")
    loras.add_argument(
        "--lora", action="append", default=[], metavar="FILE[:STRENGTH]", help="LoRA for the conditional branch"
    )
    loras.add_argument(
        "--unconditional-lora",
        action="append",
        default=[],
        metavar="FILE[:STRENGTH]",
        help="LoRA for the unconditional branch",
    )
    loras.add_argument("--unconditional-from-conditional", action="store_true",
                       help="single-model mode: the unconditional branch runs on the conditional weights plus the "
                       "unconditional LoRAs (the unconditional transformer is not read)")  # fmt: skip


def lora_choice(args: argparse.Namespace) -> LoraChoice:
    return LoraChoice(
        tuple(parse_lora_argument(a) for a in args.lora),
        tuple(parse_lora_argument(a) for a in args.unconditional_lora),
        args.unconditional_from_conditional,
    )


def settings_from_args(args: argparse.Namespace) -> SamplingSettings:
    """A preset (default V4_DEFAULT_20) with any explicit values given on the command line laid over it."""
    overrides = {name: getattr(args, name) for name in OVERRIDABLE if getattr(args, name) is not None}
    return settings_from(args.preset, overrides)


def model_paths(args: argparse.Namespace) -> ModelPaths:
    """The model files; in single-model mode the unconditional transformer is neither needed nor read."""
    single_model = getattr(args, "unconditional_from_conditional", False)
    components = (args.transformer, args.unconditional_transformer, args.text_encoder, args.vae)
    if args.model is not None:
        if any(components):
            raise Ideogram4Error("Give either --model or the component paths, not both.")
        return ModelPaths.from_folder(args.model, unconditional=not single_model)
    required = {"--transformer": args.transformer, "--text-encoder": args.text_encoder, "--vae": args.vae}
    missing = [flag for flag, value in required.items() if value is None]
    if missing:
        raise Ideogram4Error(f"Missing {', '.join(missing)}: give --model DIR or every component path.")
    uncond = None if single_model else args.unconditional_transformer
    return ModelPaths(args.transformer, uncond, args.text_encoder, args.vae, args.tokenizer)


def _read_caption(args: argparse.Namespace) -> str:
    if args.caption is not None:
        return args.caption
    try:
        return args.caption_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Ideogram4Error(f"Cannot read the caption file {args.caption_file}: {exc}.") from None


def _run_generate(args: argparse.Namespace) -> int:
    paths, caption = model_paths(args), _read_caption(args)
    return render(args, paths, caption, edit_from_args(args, caption))


def render(args: argparse.Namespace, paths: ModelPaths, caption: str, edit: Edit | None = None) -> int:
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    settings = settings_from_args(args)
    loras = lora_choice(args) if hasattr(args, "lora") else LoraChoice()
    extra = f", {loras.describe()}" if loras.describe() else ""
    print(f"{args.width}×{args.height}, seed {args.seed}, {settings.describe()}{extra} on {device} ({dtype})",
          file=sys.stderr)  # fmt: skip
    fast = FastModes(step_cache=args.step_cache, progressive=args.progressive, compile=args.compile)
    budget = None if args.vram_budget is None else int(args.vram_budget * 2**30)
    pipeline = Ideogram4Pipeline(
        paths, device=device, dtype=dtype, loras=loras, fast=fast, vram_budget=budget, exact_fp8=args.exact_fp8
    )
    started = time.perf_counter()
    result = pipeline.generate(
        caption,
        width=args.width,
        height=args.height,
        seed=args.seed,
        settings=settings,
        batch_size=args.batch_size,
        callback=_print_progress,
        edit=edit,
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
    loras = lora_choice(args).describe() if hasattr(args, "lora") else ""
    info = png_info(caption, args.seed, settings, loras)
    for path, image in zip(output_paths(args.output, len(result.images)), result.images, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, pnginfo=info)
        print(f"wrote {path}", file=sys.stderr)
    if args.save_latent is not None:
        args.save_latent.parent.mkdir(parents=True, exist_ok=True)
        save_file({"latent": result.latent.contiguous()}, str(args.save_latent))
        print(f"wrote {args.save_latent}", file=sys.stderr)
