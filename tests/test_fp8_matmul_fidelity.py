"""The default fp8 matmul path against the exact dequantised one, with the real `torch._scaled_mm` (on the CPU).

Only the capability check is patched (fixtures_fp8_matmul), so these are the kernel's own numerics. Tolerances
sit about 1.5× above what `benchmarks/bench_fp8_matmul.py` measured on these tiny random models (README, "Speed"):
one forward of a branch differs from the dequantised path by relative error 0.07–0.14 (fp32 and bf16 compute),
a whole 12-step render by ≈ 30 dB PSNR in the latent and ≈ 33 dB in the 8-bit image. Their large random weights
amplify rounding (on diffusers' own initialisation one forward moves by < 1.1 %); these bounds catch a broken
kernel call (wrong scale, transposed weight: errors of order 1), not the quality of a real model.
"""

from __future__ import annotations

import pytest
import torch
from fixtures_fp8_matmul import fp8_matmuls, sample_fidelity, text_encoder_features, transformer_forward
from fixtures_quant import (
    official_fp8,
    single_file_dits,
    write_comfy_transformer,
    write_official_fp8_transformer,
    write_quantised_repo,
)
from test_pipeline import CAPTION

from ideogram4_core.models.text_encoder import TextEncoder
from ideogram4_core.sampling.schedule import PRESETS
from ideogram4_core.weights.quant.fp8 import Fp8Linear
from ideogram4_core.weights.transformer_weights import load_transformer

FORWARD_TOLERANCE = 0.2  # relative error of one forward, fp8 matmul vs dequantised
LATENT_PSNR_DB = 25.0
IMAGE_PSNR_DB = 28.0


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The official layout in fp8 (transformer/ fused, unconditional_transformer/ split names), and the oracle."""
    folder = tmp_path_factory.mktemp("ideogram4_fp8")
    return folder, write_quantised_repo(folder, write_official_fp8_transformer, official_fp8,
                                        {"ideogram_fp8_weight_only": True})  # fmt: skip


def _fp8_layers(path) -> int:
    model = load_transformer(path, device="cpu", dtype=torch.float32)
    return sum(isinstance(module, Fp8Linear) for module in model.modules())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", ["transformer", "unconditional_transformer"])
def test_one_forward_stays_close_to_the_dequantised_path(repo, name, dtype):
    folder, _ = repo
    error, calls = transformer_forward(folder / name, dtype)
    assert calls == _fp8_layers(folder / name)  # every fp8 layer took the real kernel, once
    assert 0 < error < FORWARD_TOLERANCE


def test_comfy_fp8_scaled_forward(repo, tmp_path):
    """ComfyUI's fp8_scaled (per-tensor scales, no stored input scale: activations scaled per call)."""
    _, oracle = repo
    single_file_dits(oracle, seed=5)
    path = write_comfy_transformer(tmp_path / "ideogram4_fp8_scaled.safetensors", oracle.transformer,
                                   markers="metadata")  # fmt: skip
    error, calls = transformer_forward(path, torch.bfloat16)
    assert calls == _fp8_layers(path) and 0 < error < FORWARD_TOLERANCE


def test_a_whole_render_keeps_its_psnr(repo):
    folder, _ = repo
    settings = PRESETS["V4_TURBO_12"]
    latent_db, image_db, calls = sample_fidelity(folder, torch.float32, CAPTION, settings, (64, 48), seed=3)
    assert calls > 0
    assert LATENT_PSNR_DB < latent_db < float("inf") and image_db > IMAGE_PSNR_DB


def test_the_text_encoder_stays_exact_by_default(repo):
    """The pipeline's and the nodes' text encoder dequantise (it runs once per image, its features feed every
    step); opting in does take the kernel, with the error the README records."""
    folder, _ = repo
    encoder = TextEncoder.load(folder / "text_encoder", None, device=torch.device("cpu"), dtype=torch.float32)
    ids = torch.arange(40)
    with torch.inference_mode():
        exact = encoder.model(ids)
        with fp8_matmuls() as calls:
            assert torch.equal(encoder.model(ids), exact) and calls == [0]
    error, calls = text_encoder_features(folder / "text_encoder", torch.float32)
    assert calls > 0 and 0 < error < FORWARD_TOLERANCE
