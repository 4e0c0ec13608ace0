"""Speed and fidelity of the fast modes (step cache, progressive resolution) against the exact sampler, on CPU.

    python benchmarks/bench_fast_modes.py [--preset V4_TURBO_12]   # 4-block DiT (hidden 512), 256², 2 captions

Writes a random model in the official layout (as `bench_pipeline.py` does, smaller), encodes a fixed caption set
once, then samples every caption with the same seed in each mode and decodes it. Reported per mode: sampling
seconds per image (wall and process CPU time, all threads; the CPU figure is the one a shared machine disturbs
least), the speed-up over the exact sampler, and the fidelity of the decoded image against the exact sampler's
(PSNR in dB and SSIM, mean and worst over the captions). Random weights say how much a mode changes the
computation, not how a trained model's images look; the README records the numbers.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT.parent), str(ROOT.parent / "tests"), str(ROOT)]

from bench_pipeline import write_model  # noqa: E402

from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths, decode_units  # noqa: E402
from ideogram4_core.sampling.fast_modes import EXACT, FastModes, sample_fast  # noqa: E402
from ideogram4_core.sampling.latents import token_grid, tokens_to_vae  # noqa: E402
from ideogram4_core.sampling.sampler import initial_noise  # noqa: E402
from ideogram4_core.sampling.schedule import PRESETS  # noqa: E402

CONFIG = {
    "dit": dict(num_layers=4, attention_head_dim=256, num_attention_heads=2, intermediate_size=1536, adaln_dim=128),
    "text": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, head_dim=16),
    "vae": dict(block_out_channels=(32, 64, 64, 64), layers_per_block=1, norm_num_groups=16),
    "dtype": "fp32",
}
CAPTIONS = [
    '{"high_level_description":"A minimalist travel poster of a lighthouse at dusk","compositional_deconstruction":'
    '{"background":"deep blue gradient sky","elements":[{"type":"text","text":"VISIT THE COAST"}]}}',
    '{"high_level_description":"Packaging for a citrus soda can, bold flat shapes","style_description":'
    '{"color_palette":["#F9C74F","#F94144","#277DA1"]},"compositional_deconstruction":{"background":"white"}}',
]
MODES = {
    "exact": EXACT,
    "step cache 0.25": FastModes(step_cache=0.25),
    "step cache 0.5": FastModes(step_cache=0.5),
    "progressive 0.25": FastModes(progressive=0.25),
    "progressive 0.5": FastModes(progressive=0.5),
}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio of two images in [0, 1], in dB (inf when identical)."""
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean structural similarity of two (H, W, C) images in [0, 1]: Gaussian window 11, σ 1.5, per channel."""
    x, y = (t.permute(2, 0, 1).unsqueeze(1).double() for t in (a, b))  # (C, 1, H, W)
    axis = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(axis**2) / (2 * 1.5**2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2)[None, None]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return float(((2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="image width = height")
    parser.add_argument("--preset", default="V4_DEFAULT_20")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cpu = torch.device("cpu")
    with tempfile.TemporaryDirectory(prefix="ideogram4-fast-") as tmp:
        write_model(Path(tmp), CONFIG)
        pipe = Ideogram4Pipeline(ModelPaths.from_folder(tmp), device=cpu, dtype=torch.float32)
        features = pipe.load_text_encoder().encode(CAPTIONS)
        cond, uncond, vae = pipe.load_branch("cond"), pipe.load_branch("uncond"), pipe.load_vae()
        report(cond, uncond, vae, features, args)


def report(cond, uncond, vae, features: list[torch.Tensor], args: argparse.Namespace) -> None:
    """Render every caption in every mode and print the table."""
    settings, size = PRESETS[args.preset], (args.size, args.size)
    grid = token_grid(*size)

    def render(feature: torch.Tensor, fast: FastModes) -> tuple[torch.Tensor, float, float]:
        noise = initial_noise(args.seed, 1, grid[0] * grid[1])
        wall, cpu_time = time.perf_counter(), time.process_time()
        tokens = sample_fast(cond, uncond, [feature], noise, grid, size, settings, fast=fast)
        wall, cpu_time = time.perf_counter() - wall, time.process_time() - cpu_time
        return decode_units(vae, tokens_to_vae(tokens, grid))[0], wall, cpu_time

    render(features[0], EXACT)  # warm-up
    results = {name: [render(f, fast) for f in features] for name, fast in MODES.items()}
    exact = results["exact"]
    base_wall = sum(r[1] for r in exact) / len(exact)
    base_cpu = sum(r[2] for r in exact) / len(exact)
    print(f"{CONFIG['dit']['num_layers']} blocks, hidden 512, {size[0]}², {args.preset}, {len(CAPTIONS)} captions, "
          f"seed {args.seed}, fp32 on CPU\n")  # fmt: skip
    print("| mode | sampling s/image (CPU s) | speed-up wall (CPU) | PSNR dB mean / worst | SSIM mean / worst |")
    print("|---|---|---|---|---|")
    for name, runs in results.items():
        wall, cpu_time = sum(r[1] for r in runs) / len(runs), sum(r[2] for r in runs) / len(runs)
        scores = [(psnr(r[0], e[0]), ssim(r[0], e[0])) for r, e in zip(runs, exact, strict=True)]
        p = [s[0] for s in scores]
        q = [s[1] for s in scores]
        fidelity = ("exact", "1") if name == "exact" else (
            f"{sum(p) / len(p):.1f} / {min(p):.1f}", f"{sum(q) / len(q):.3f} / {min(q):.3f}")  # fmt: skip
        print(f"| {name} | {wall:.2f} ({cpu_time:.2f}) | {base_wall / wall:.2f}× ({base_cpu / cpu_time:.2f}×) "
              f"| {fidelity[0]} | {fidelity[1]} |")  # fmt: skip


if __name__ == "__main__":
    main()
