"""Quantised weight formats (SPEC §2.2, §3): detection from file headers and Linear layers that stay quantised.

A format is a `WeightFormat`: it recognises itself from the safetensors headers (and the folder's config) and,
at load time, takes the tensors of every quantised Linear out of the state dict and returns ready-made
replacement modules keyed by module path (`layers.0.attention.qkv`). Loaders build the model on `meta`, put the
replacements in place, and assign the remaining plain tensors (see `modules.materialize`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import torch
from torch import nn

from ..safetensors_io import SafetensorsHeader
from .comfy import ComfyFp8Scaled, ComfyInt8, ComfyNvfp4Mixed
from .fp8 import OfficialFp8
from .nf4 import OfficialNf4


class WeightFormat(Protocol):
    name: str  # stable id, e.g. "official-fp8", "official-nf4", "comfy-fp8-scaled", "comfy-nvfp4-mixed", "comfy-int8"

    def detect(self, headers: Sequence[SafetensorsHeader], config: Mapping | None) -> bool:
        """True when these files are in this format (headers and config only, no tensor data)."""

    def take_linears(self, tensors: dict[str, torch.Tensor], compute_dtype: torch.dtype) -> dict[str, nn.Module]:
        """Pop every quantised Linear's tensors from `tensors`; return replacement modules by module path."""


class PlainFloat:
    """Unquantised floating-point weights (bf16/fp16/fp32): nothing to replace."""

    name = "float"

    def detect(self, headers: Sequence[SafetensorsHeader], config: Mapping | None) -> bool:
        return True

    def take_linears(self, tensors: dict[str, torch.Tensor], compute_dtype: torch.dtype) -> dict[str, nn.Module]:
        return {}


# Checked in order; the first match wins, so the catch-all PlainFloat stays last.
FORMATS: list[WeightFormat] = [
    ComfyNvfp4Mixed(), ComfyInt8(), ComfyFp8Scaled(), OfficialFp8(), OfficialNf4(), PlainFloat()
]  # fmt: skip


def detect_format(headers: Sequence[SafetensorsHeader], config: Mapping | None = None) -> WeightFormat:
    return next(fmt for fmt in FORMATS if fmt.detect(headers, config))


class ConcatLinear(nn.Module):
    """Several Linear layers whose outputs are concatenated: fuses split q/k/v of any format exactly."""

    def __init__(self, parts: Sequence[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.in_features = parts[0].in_features
        self.out_features = sum(part.out_features for part in parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([part(x) for part in self.parts], dim=-1)
