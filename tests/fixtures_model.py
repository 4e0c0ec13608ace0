"""A tiny random Ideogram 4 in the official repo layout, built with the reference's own classes.

`write_official_model(folder)` saves transformer/, unconditional_transformer/, text_encoder/, tokenizer/, vae/,
scheduler/ and model_index.json with `save_pretrained`, and returns the diffusers pipeline (the oracle).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLFlux2,
    FlowMatchEulerDiscreteScheduler,
    Ideogram4Pipeline,
    Ideogram4Transformer2DModel,
)
from fixtures_text import tiny_qwen3_vl, write_tokenizer
from transformers import AutoTokenizer

from ideogram4_core.sampling.latents import latent_statistics

TEXT_HIDDEN = 32
TINY_DIT = dict(
    in_channels=128,
    num_layers=2,
    attention_head_dim=64,
    num_attention_heads=2,
    intermediate_size=96,
    adaln_dim=32,
    llm_features_dim=TEXT_HIDDEN * 13,
    mrope_section=(8, 8, 8),
)
TINY_VAE = dict(block_out_channels=(16, 16, 32, 32), layers_per_block=1, norm_num_groups=8, latent_channels=32)


def randomized(module: torch.nn.Module, seed: int, scale: float = 0.2) -> torch.nn.Module:
    """Non-trivial values everywhere: norm weights around 1, everything else around 0."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale + (1.0 if "norm" in name else 0.0))
    return module.eval()


def tiny_vae(seed: int, **config) -> AutoencoderKLFlux2:
    """The official VAE carries Ideogram's latent statistics in its batch-norm buffers (SPEC §8); `config`
    overrides TINY_VAE's sizes."""
    torch.manual_seed(seed)
    vae = AutoencoderKLFlux2(**(TINY_VAE | config)).eval()
    with torch.no_grad():
        for module in vae.modules():
            if isinstance(module, torch.nn.GroupNorm):
                module.weight.normal_(1.0, 0.2)
                module.bias.normal_(0.0, 0.2)
        shift, scale = latent_statistics()
        vae.bn.running_mean.copy_(shift)
        vae.bn.running_var.copy_(scale**2 - vae.config.batch_norm_eps)
    return vae


def write_official_model(folder: Path, seed: int = 0) -> Ideogram4Pipeline:
    tokenizer_dir = write_tokenizer(folder / "_tokenizer_src")
    pipe = Ideogram4Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=tiny_vae(seed),
        text_encoder=tiny_qwen3_vl(seed=seed),
        tokenizer=AutoTokenizer.from_pretrained(tokenizer_dir),
        transformer=randomized(Ideogram4Transformer2DModel(**TINY_DIT), seed + 1),
        unconditional_transformer=randomized(Ideogram4Transformer2DModel(**TINY_DIT), seed + 2),
    )
    pipe.save_pretrained(folder)
    shutil.rmtree(tokenizer_dir)
    return pipe
