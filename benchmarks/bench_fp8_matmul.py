"""Fidelity of the default fp8 matmul path, measured on the CPU with the real `torch._scaled_mm`.

    python benchmarks/bench_fp8_matmul.py        # about a minute on 2 cores

PyTorch's CPU kernel computes e4m3 × e4m3 products as the GPU one does; only the capability check is patched
(tests/fixtures_fp8_matmul.py), so what is measured is the kernel's numerics, not its speed. Reported:
- the GPU benchmark's tiny DiT (diffusers' own initialisation, caption 64 tokens, 64² and 128²): one conditional
  forward, fp8 with fp8 matmuls and fp8 dequantised, each against ours in plain weights (relative error);
- the test suite's tiny random models in the official fp8 layout (weights drawn at 0.2, which amplifies rounding
  far more than trained weights): one forward of each branch, ComfyUI's fp8_scaled, the 36-layer text encoder's
  features, and a whole 12-step render (PSNR of the latent and of the 8-bit image) against the dequantised path.
The README records the numbers ("Speed").
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT.parent), str(ROOT.parent / "tests"), str(ROOT)]

from fixtures_fp8_matmul import (  # noqa: E402
    fp8_matmuls,
    relative_error,
    sample_fidelity,
    text_encoder_features,
    transformer_forward,
)
from fixtures_quant import (  # noqa: E402
    official_fp8,
    single_file_dits,
    write_comfy_transformer,
    write_official_fp8_transformer,
    write_quantised_repo,
)
from gpu_bench import TINY, Inputs, build_reference, ours_from, quantised  # noqa: E402

from ideogram4_core.sampling.schedule import PRESETS  # noqa: E402
from ideogram4_core.weights.quant.fp8 import use_fp8_matmul  # noqa: E402

CAPTION = '{"compositional_deconstruction": {"background": "sky", "elements": [{"type": "obj", "desc": "a kite"}]}}'
CPU = torch.device("cpu")


def bench_config_rows(dtype: torch.dtype) -> list[tuple[str, str]]:
    """The GPU benchmark's tiny DiT: fp8 (fp8 matmul, dequantised) against ours in plain `dtype` weights."""
    torch.manual_seed(0)
    plain = ours_from(build_reference(TINY.cfg, CPU, dtype), TINY.cfg)
    fp8 = quantised(plain, "fp8")
    rows = []
    for size in TINY.sizes:
        data = Inputs(TINY, size, CPU, dtype)
        with torch.inference_mode():
            expected = data.ours(plain, "cond")()
            use_fp8_matmul(fp8, False)
            dequantised = relative_error(data.ours(fp8, "cond")(), expected)
            use_fp8_matmul(fp8, True)
            with fp8_matmuls():
                fast = relative_error(data.ours(fp8, "cond")(), expected)
        label = f"bench DiT {size}², {str(dtype).removeprefix('torch.')}: forward vs plain weights"
        rows.append((label, f"fp8 matmul {fast:.2e}, dequantised fp8 {dequantised:.2e}"))
    return rows


def fixture_rows(folder: Path) -> list[tuple[str, str]]:
    """The test suite's random fp8 models against their dequantised path."""
    oracle = write_quantised_repo(folder, write_official_fp8_transformer, official_fp8,
                                  {"ideogram_fp8_weight_only": True})  # fmt: skip
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        name = str(dtype).removeprefix("torch.")
        for branch in ("transformer", "unconditional_transformer"):
            errors = [transformer_forward(folder / branch, dtype, seed)[0] for seed in range(3)]
            rows.append((f"official fp8 {branch}, {name}: forward (3 seeds)", _span(errors)))
        features, _ = text_encoder_features(folder / "text_encoder", dtype)
        rows.append((f"text encoder (36 layers), {name}: features", f"{features:.3f}"))
        latent, image, _ = sample_fidelity(folder, dtype, CAPTION, PRESETS["V4_TURBO_12"], (64, 48), seed=3)
        rows.append((f"whole render V4_TURBO_12 64×48, {name}", f"latent {latent:.1f} dB, image {image:.1f} dB PSNR"))
    single_file_dits(oracle, seed=5)
    for markers, what in (("metadata", "no stored input scale"), ("tensor", "stored input scale 0.0125")):
        path = write_comfy_transformer(folder / f"ideogram4_{markers}.safetensors", oracle.transformer, markers=markers)
        error, _ = transformer_forward(path, torch.bfloat16)
        rows.append((f"ComfyUI fp8_scaled ({what}), bfloat16: forward", f"{error:.3f}"))
    return rows


def _span(values: list[float]) -> str:
    return f"{min(values):.3f}–{max(values):.3f}"


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    rows = bench_config_rows(torch.float32) + bench_config_rows(torch.bfloat16)
    with tempfile.TemporaryDirectory() as folder:
        rows += fixture_rows(Path(folder))
    print("| measurement | relative error (or PSNR) |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")


if __name__ == "__main__":
    main()
