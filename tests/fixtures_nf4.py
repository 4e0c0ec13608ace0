"""bitsandbytes NF4 as the official `ideogram-4-nf4` release stores it, made with the real quantiser.

Each Linear is stored as `bitsandbytes.nn.Linear4bit._save_to_state_dict` writes it: the packed `weight` plus
`QuantState.as_dict(packed=True)` under `weight.` (absmax, quant_map, quant_state.bitsandbytes__<type>).
"""

from __future__ import annotations

import json
from pathlib import Path

import bitsandbytes.functional as bnb
import torch
from fixtures_quant import nf4, nf4_config, store, transformer_groups
from safetensors.torch import save_file
from torch import nn


def quantize(weight: torch.Tensor, quant_type: str = "nf4", nested: bool = False) -> dict[str, torch.Tensor]:
    """One Linear weight serialised like a bitsandbytes Params4bit (names relative to the Linear)."""
    packed, state = bnb.quantize_4bit(weight, blocksize=64, quant_type=quant_type, compress_statistics=nested)
    return {"weight": packed, **{f"weight.{k}": v for k, v in state.as_dict(packed=True).items()}}


def dequantize(stored: dict[str, torch.Tensor], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """bitsandbytes' own dequantisation of a `quantize` result.

    Blocks run over the flattened weight (as in bitsandbytes' CUDA kernel and its pure-torch backend). Its native
    CPU kernel (0.50) indexes them per row instead and is wrong when in_features is not a multiple of the
    blocksize, so it is given the flat shape here.
    """
    state = bnb.QuantState.from_dict({k: v for k, v in stored.items() if k != "weight"}, device=torch.device("cpu"))
    shape, state.shape, state.dtype = state.shape, torch.Size([1, state.shape.numel()]), dtype
    return bnb.dequantize_4bit(stored["weight"], state).view(shape)


def write_nf4_transformer(folder: Path, model: nn.Module, *, fused: bool) -> Path:
    """A `transformer/`-style folder: diffusers config with the bitsandbytes `quantization_config`, every Linear
    NF4, fused (original) or split (diffusers) attention names; `model` receives the exact stored values."""
    groups, linears = transformer_groups(model, fused)
    tensors = store(groups, linears, nf4)
    model.save_config(folder)
    save_file(tensors, folder / "diffusion_pytorch_model.safetensors")
    config = folder / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | nf4_config()))
    return folder
