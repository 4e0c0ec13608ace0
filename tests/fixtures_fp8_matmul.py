"""Fidelity of the fp8 matmul path against the exact (dequantised) one, measured on the CPU.

PyTorch's CPU `torch._scaled_mm` computes e4m3 × e4m3 products like the GPU kernel does, so patching only the
capability check (`fp8.cuda_fp8_capable`) makes every supported `Fp8Linear` take the real fp8 matmul here. The
same models then run both paths: `fp8_matmuls()` on, and off (the dequantised path, which the parity tests hold
to the reference). Used by `test_fp8_matmul_fidelity.py` and `benchmarks/bench_fp8_matmul.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from ideogram4_core.models.text_encoder import load_text_encoder
from ideogram4_core.models.transformer import Ideogram4Transformer
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import SamplingSettings
from ideogram4_core.weights.quant import fp8 as fp8_module
from ideogram4_core.weights.transformer_weights import load_transformer

CPU = torch.device("cpu")


@contextmanager
def fp8_matmuls() -> Iterator[list[int]]:
    """Inside: fp8 layers that want fp8 matmuls run the real `torch._scaled_mm` on the CPU. Yields a one-item list
    counting the kernel calls."""
    calls = [0]
    kernel = torch._scaled_mm

    def counted(*args, **kwargs):
        calls[0] += 1
        return kernel(*args, **kwargs)

    with (
        mock.patch.object(fp8_module, "cuda_fp8_capable", lambda device: True),
        mock.patch.object(torch, "_scaled_mm", counted),
    ):
        yield calls


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """‖got − expected‖ / ‖expected‖ (Frobenius, in float64)."""
    return float((got.double() - expected.double()).norm() / expected.double().norm())


def psnr(got: torch.Tensor | np.ndarray, expected: torch.Tensor | np.ndarray, peak: float) -> float:
    """Peak signal-to-noise ratio in dB for signals whose peak is `peak` (inf when identical)."""
    mse = float(((torch.as_tensor(got).double() - torch.as_tensor(expected).double()) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def transformer_forward(path: Path, dtype: torch.dtype, seed: int = 0) -> tuple[float, int]:
    """One conditional forward (8 caption + 12 image tokens) of the fp8 transformer at `path` in `dtype`:
    (relative error of the fp8 matmul path vs the dequantised one, fp8 kernel calls)."""
    model = load_transformer(path, device=CPU, dtype=dtype)
    x, t, text = _forward_inputs(model, seed)
    exact = _forward(model, x.to(dtype), t, text.to(dtype))
    with fp8_matmuls() as calls:
        fast = _forward(model, x.to(dtype), t, text.to(dtype))
    return relative_error(fast, exact), calls[0]


def _forward_inputs(model: Ideogram4Transformer, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    cfg = model.config
    return (
        torch.randn(1, 12, cfg.in_channels, generator=gen),
        torch.tensor([0.6]),
        torch.randn(1, 8, cfg.llm_features_dim, generator=gen),
    )


def _forward(model: Ideogram4Transformer, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        prepared = model.prepare(model.rotary(text.shape[1], (3, 4), CPU), text)
        return model.run(x, t, prepared).float()


def text_encoder_features(path: Path, dtype: torch.dtype, tokens: int = 40) -> tuple[float, int]:
    """The fp8 text encoder at `path` on random token ids: (relative error of its features with fp8 matmuls vs
    dequantised, fp8 kernel calls)."""
    encoder = load_text_encoder(path, device=CPU, dtype=dtype, fp8_matmul=True)
    ids = torch.randint(0, 1000, (tokens,), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        exact = encoder(ids)
        with fp8_matmuls() as calls:
            fast = encoder(ids)
    return relative_error(fast, exact), calls[0]


def sample_fidelity(
    folder: Path, dtype: torch.dtype, caption: str, settings: SamplingSettings, size: tuple[int, int], seed: int
) -> tuple[float, float, int]:
    """A whole render of the fp8 repo at `folder` (the transformers fp8 matmul, the text encoder dequantised, as
    by default): (PSNR of the VAE-space latent in dB, peak = the exact latent's largest magnitude; PSNR of the
    decoded 8-bit image in dB; fp8 kernel calls)."""
    pipeline = Ideogram4Pipeline(ModelPaths.from_folder(folder), device=CPU, dtype=dtype)
    width, height = size
    exact = pipeline.generate(caption, width=width, height=height, seed=seed, settings=settings)
    with fp8_matmuls() as calls:
        fast = pipeline.generate(caption, width=width, height=height, seed=seed, settings=settings)
    latent = psnr(fast.latent, exact.latent, float(exact.latent.abs().max()))
    images = [np.asarray(result.images[0], dtype=np.float64) / 255 for result in (fast, exact)]
    return latent, psnr(*images, peak=1.0), calls[0]
