"""What one transformer forward costs, from the config alone: parameters, matmul FLOPs, weight and activation bytes.

Used by the GPU benchmark (achieved TFLOP/s) and the memory planner (`memory_plan`). Parameter counts are exact
(the model is built on `meta`); FLOPs count the matmuls of one step (2 per multiply-add) over
the real tokens, without the caption projection, which runs once per image (`Ideogram4Transformer.prepare`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

from .transformer import Ideogram4Transformer, TransformerConfig

BYTES_PER_WEIGHT = {"bf16": 2.0, "fp16": 2.0, "fp32": 4.0, "fp8": 1.0, "nf4": 0.5 + 4 / 64}
"""Bytes per Linear weight element of each stored format (nf4: 4 bits plus one fp32 absmax per 64)."""


@dataclass(frozen=True)
class ParameterCounts:
    """Elements of the Linear weights (what quantised formats pack) and of everything else, in and outside blocks."""

    block_linear: int
    block_other: int
    outer_linear: int
    outer_other: int

    @property
    def total(self) -> int:
        return self.block_linear + self.block_other + self.outer_linear + self.outer_other


@functools.cache
def parameter_counts(cfg: TransformerConfig) -> ParameterCounts:
    """Exact element counts of one branch (built on `meta`: no memory, no init)."""
    with torch.device("meta"):
        model = Ideogram4Transformer(cfg)
    counts = {"block_linear": 0, "block_other": 0, "outer_linear": 0, "outer_other": 0}
    for path, module in model.named_modules():
        where = "block" if path.startswith("layers.") else "outer"
        for name, tensor in module.named_parameters(recurse=False):
            kind = "linear" if isinstance(module, nn.Linear) and name == "weight" else "other"
            counts[f"{where}_{kind}"] += tensor.numel()
    return ParameterCounts(**counts)


def weight_bytes(cfg: TransformerConfig, fmt: str, *, blocks: bool = True, outer: bool = True) -> int:
    """Resident bytes of one branch's weights in format `fmt` (Linear weights packed, the rest in bf16)."""
    counts = parameter_counts(cfg)
    linear = (counts.block_linear if blocks else 0) + (counts.outer_linear if outer else 0)
    other = (counts.block_other if blocks else 0) + (counts.outer_other if outer else 0)
    return int(linear * BYTES_PER_WEIGHT[fmt] + other * 2)


def block_bytes(cfg: TransformerConfig, fmt: str) -> int:
    """Bytes of one transformer block in format `fmt` (what block streaming copies per block)."""
    return weight_bytes(cfg, fmt, outer=False) // cfg.num_layers


def forward_flops(cfg: TransformerConfig, text_tokens: int, image_tokens: int, batch: int = 1) -> float:
    """Matmul FLOPs of one step of one branch over `[text][image]` (text 0: the unconditional branch)."""
    dim, seq = cfg.hidden_size, text_tokens + image_tokens
    linear = 4 * dim * dim + 3 * dim * cfg.intermediate_size  # qkv, o, w1, w2, w3 (multiply-adds per token)
    attention = 2 * seq * dim  # QKᵀ and AV, per token
    blocks = cfg.num_layers * seq * (linear + attention)
    ends = image_tokens * 2 * cfg.in_channels * dim  # input projection and final layer
    # Per image, not per token: timestep MLP, adaln_proj, each block's and the final layer's modulation.
    conditioning = 2 * dim * dim + dim * cfg.adaln_dim + cfg.num_layers * cfg.adaln_dim * 4 * dim + cfg.adaln_dim * dim
    return 2.0 * batch * (blocks + ends + conditioning)


def activation_bytes(
    cfg: TransformerConfig, text_tokens: int, image_tokens: int, compute_bytes: int = 2, batch: int = 1
) -> int:
    """Estimated peak activations of one forward (memory-efficient attention, no S² scores).

    The largest live set is inside the feed-forward: the hidden state, its normalised input, the w1 and w3
    outputs and their product (compute dtype), plus the float32 copy RMSNorm makes of one hidden-width tensor and
    the rotary tables; the caption features (float32) stay resident for the conditional branch.
    """
    seq, dim = text_tokens + image_tokens, cfg.hidden_size
    ffn = seq * (2 * dim + 3 * cfg.intermediate_size) * compute_bytes
    norm = seq * dim * 4
    rope = 2 * seq * cfg.attention_head_dim * compute_bytes
    caption = text_tokens * cfg.llm_features_dim * 4
    return batch * (ffn + norm + rope + caption)


def dequant_bytes(cfg: TransformerConfig, compute_bytes: int = 2) -> int:
    """Scratch of the largest quantised Linear expanded per call (float32, then the compute dtype)."""
    largest = max(cfg.hidden_size * cfg.intermediate_size, cfg.llm_features_dim * cfg.hidden_size)
    return largest * (4 + compute_bytes)
