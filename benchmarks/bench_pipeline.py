"""Time our pipeline against `diffusers.Ideogram4Pipeline` on the same random weights, side by side.

    python benchmarks/bench_pipeline.py --config cpu     # 6-block DiT, 512×512, 8 steps, ~450-token caption
    python benchmarks/bench_pipeline.py --config gpu     # full-size random weights, bf16, 1024² and 2048²

Each side runs in its own subprocess (so peak memory is its own), loading from the same folder written in the
official layout, and is timed from loading to the finished image. Prints per-image time, peak memory and the
ratio oracle / ours (> 1 means we are faster), for the whole run and for sampling alone. Sampling is timed the
same way on both sides, from step-end callbacks: (last − first step end) / (steps − 1) per step. Each figure is
given in wall seconds and in the process's CPU seconds (all threads), which a machine shared with other work
disturbs much less.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

CONFIGS = {
    "cpu": {
        "dit": dict(num_layers=6, attention_head_dim=256, num_attention_heads=2, intermediate_size=1536, adaln_dim=128),
        "text": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, head_dim=16),
        "vae": dict(block_out_channels=(32, 64, 64, 64), layers_per_block=1, norm_num_groups=16),
        "sizes": [(512, 512)],
        "steps": 8,
        "dtype": "fp32",
    },
    "gpu": {
        "dit": {},  # the released sizes
        "text": dict(
            hidden_size=4096, intermediate_size=12288, num_attention_heads=32, num_key_value_heads=8, head_dim=128
        ),
        "vae": {},
        "sizes": [(1024, 1024), (2048, 2048)],
        "steps": 20,
        "dtype": "bf16",
    },
}


def poster_caption(target_tokens: int = 450) -> str:
    """A realistic JSON caption of roughly `target_tokens` tokens."""
    elements = []
    i = 0
    while len(json.dumps(elements)) < target_tokens * 2.4:
        elements.append(
            {
                "type": "text" if i % 2 else "obj",
                "bbox": [60 * i % 900, 40 * i % 800, 60 * i % 900 + 90, 40 * i % 800 + 190],
                **({"text": f"Line {i}: SUMMER FESTIVAL"} if i % 2 else {}),
                "desc": f"element {i}, a bold geometric shape with soft gradient shading and a subtle drop shadow",
            }
        )
        i += 1
    caption = {
        "high_level_description": "A vibrant festival poster with layered typography and geometric shapes",
        "style_description": {
            "aesthetics": "bold, playful, high contrast",
            "lighting": "flat studio lighting",
            "medium": "digital illustration",
            "art_style": "Swiss modernist poster",
            "color_palette": ["#F94144", "#F3722C", "#F9C74F", "#90BE6D", "#277DA1"],
        },
        "compositional_deconstruction": {"background": "warm off-white paper", "elements": elements},
    }
    return json.dumps(caption, ensure_ascii=False, separators=(",", ":"))


def text_encoder(sizes: dict):
    """A random head-less Qwen3-VL with 36 layers of the given sizes and the full vocabulary."""
    from transformers import Qwen3VLConfig, Qwen3VLModel

    rope = {"rope_type": "default", "rope_theta": 5e6, "mrope_section": [24, 20, 20], "mrope_interleaved": True}
    if sizes["head_dim"] < 128:
        rope["mrope_section"] = [sizes["head_dim"] // 4, sizes["head_dim"] // 8, sizes["head_dim"] // 8]
    text = dict(sizes, vocab_size=151936, num_hidden_layers=36, rope_parameters=rope)
    vision = dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=sizes["hidden_size"])
    return Qwen3VLModel(Qwen3VLConfig(text_config=text, vision_config=vision)).eval()


def write_model(folder: Path, config: dict) -> None:
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Ideogram4Pipeline,
        Ideogram4Transformer2DModel,
    )
    from fixtures_text import write_tokenizer
    from transformers import AutoTokenizer

    from ideogram4_core.sampling.latents import latent_statistics

    if config["dtype"] == "bf16":  # full size: build in bf16 so the random weights fit in memory
        torch.set_default_dtype(torch.bfloat16)
    tokenizer_dir = write_tokenizer(folder / "_tokenizer_src")
    dit = dict(config["dit"], llm_features_dim=config["text"]["hidden_size"] * 13)
    vae = AutoencoderKLFlux2(**config["vae"])
    shift, scale = latent_statistics()
    vae.bn.running_mean.copy_(shift)
    vae.bn.running_var.copy_(scale**2 - vae.config.batch_norm_eps)
    Ideogram4Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder(config["text"]),
        tokenizer=AutoTokenizer.from_pretrained(tokenizer_dir),
        transformer=Ideogram4Transformer2DModel(**dit),
        unconditional_transformer=Ideogram4Transformer2DModel(**dit),
    ).save_pretrained(folder)


def run_worker(side: str, folder: Path, width: int, height: int, steps: int, dtype_name: str) -> dict:
    from ideogram4_core.devices import resolve_device, resolve_dtype
    from ideogram4_core.sampling.schedule import SamplingSettings

    device = resolve_device("auto")
    dtype = resolve_dtype(dtype_name, device)
    settings = SamplingSettings(steps=steps, guidance=7.0, polish_steps=2, polish_guidance=3.0, mu=0.0, std=1.75)
    caption = poster_caption()
    marks: list[tuple[float, float]] = []  # (wall, CPU) at each step end

    def mark() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()
        marks.append((time.perf_counter(), time.process_time()))

    started, started_cpu = time.perf_counter(), time.process_time()
    if side == "ours":
        from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths

        pipe = Ideogram4Pipeline(ModelPaths.from_folder(folder), device=device, dtype=dtype)
        pipe.generate(caption, width=width, height=height, seed=0, settings=settings, callback=lambda *_: mark())
    else:
        from diffusers import Ideogram4Pipeline

        pipe = Ideogram4Pipeline.from_pretrained(folder, torch_dtype=dtype).to(device)
        pipe.set_progress_bar_config(disable=True)
        pipe(
            caption,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_schedule=settings.guidance_schedule(),
            mu=settings.mu,
            std=settings.std,
            generator=torch.Generator("cpu").manual_seed(0),
            callback_on_step_end=lambda *_: mark() or {},
        )
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    (first_wall, first_cpu), (last_wall, last_cpu) = marks[0], marks[-1]
    step = ((last_wall - first_wall) / (len(marks) - 1), (last_cpu - first_cpu) / (len(marks) - 1))
    peak = (
        torch.cuda.max_memory_allocated() / 2**30
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "step_seconds": step[0], "step_cpu_seconds": step[1],
            "peak_gib": peak, "memory": "GPU" if device.type == "cuda" else "RSS"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--worker", choices=["ours", "oracle"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from ideogram4_core.models.tokenizer import CaptionTokenizer

    config = CONFIGS[args.config]
    if args.worker:
        result = run_worker(args.worker, args.folder, *args.size, config["steps"], config["dtype"])
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="ideogram4-bench-") as tmp:
        write_model(Path(tmp), config)
        tokens = CaptionTokenizer.from_folder(Path(tmp) / "tokenizer").count_tokens(poster_caption())
        print(f"config {args.config}: {config['steps']} steps, {config['dtype']}, caption {tokens} tokens", flush=True)
        for width, height in config["sizes"]:
            results = {side: _spawn(args.config, side, Path(tmp), width, height) for side in ("oracle", "ours")}
            ours, oracle = results["ours"], results["oracle"]
            for side, r in results.items():
                peak = f"peak {r['memory']} {r['peak_gib']:.2f} GiB"
                print(
                    f"  {width}×{height} {side:>6}: {r['seconds']:7.2f} s/image ({r['cpu_seconds']:.2f} CPU s), "
                    f"{r['step_seconds']:.3f} s/step ({r['step_cpu_seconds']:.3f} CPU s), {peak}",
                    flush=True,
                )
            for what, wall, cpu in (("whole run", "seconds", "cpu_seconds"),
                                    ("sampling", "step_seconds", "step_cpu_seconds")):  # fmt: skip
                print(f"  {width}×{height} speed-up oracle/ours, {what}: {oracle[wall] / ours[wall]:.2f}× wall, "
                      f"{oracle[cpu] / ours[cpu]:.2f}× CPU time")  # fmt: skip
            print(f"  {width}×{height} peak memory ours/oracle: {ours['peak_gib'] / oracle['peak_gib']:.2f}")


def _spawn(config: str, side: str, folder: Path, width: int, height: int) -> dict:
    command = [sys.executable, __file__, "--config", config, "--worker", side, "--folder", str(folder)]
    done = subprocess.run([*command, "--size", str(width), str(height)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
