"""bitsandbytes NF4 weights as in the official `ideogram-4-nf4` release (SPEC §2.2, §3).

Each quantised Linear `X` is stored the way bitsandbytes serialises a `Params4bit`
(`QuantState.as_dict(packed=True)`): `X.weight` uint8 [(out·in)/2, 1] with two 4-bit codes per byte (first
element in the high nibble), `X.weight.absmax` fp32 (one per block), `X.weight.quant_map` fp32 [16] (the NF4
table) and `X.weight.quant_state.bitsandbytes__nf4`, a uint8 tensor of JSON bytes holding quant_type,
blocksize, dtype and shape. `W = quant_map[code] · absmax[block]`, computed in fp32.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ModelFileError
from ..safetensors_io import SafetensorsHeader
from .linear import DequantLinear

_STATE = ".weight.quant_state.bitsandbytes__"


def dequantize_nf4(
    packed: torch.Tensor,
    absmax: torch.Tensor,
    quant_map: torch.Tensor,
    shape: tuple[int, int],
    blocksize: int,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Exact pure-torch dequantisation, bit-identical to bitsandbytes' (whose blocks run over the flattened weight).

    Each byte indexes a 256-entry table of (high nibble, low nibble) value pairs; products are taken in fp32.
    """
    n = math.prod(shape)
    pairs = torch.stack(torch.meshgrid(quant_map, quant_map, indexing="ij"), dim=-1).reshape(256, 2)
    values = pairs[packed.reshape(-1).int()].reshape(-1)[:n]
    values = F.pad(values, (0, absmax.numel() * blocksize - n)).view(-1, blocksize) * absmax.unsqueeze(1)
    return values.reshape(-1)[:n].view(shape).to(dtype)


@functools.cache
def _bitsandbytes() -> ModuleType | None:
    """`bitsandbytes.functional` when it is installed (an optional dependency, used for its CUDA kernels)."""
    try:
        import bitsandbytes.functional as bnb_functional
    except (ImportError, RuntimeError):
        return None
    return bnb_functional


class Nf4Linear(DequantLinear):
    """A Linear that keeps its NF4 weight packed (~0.5 byte/parameter) and dequantises it on every call."""

    def __init__(
        self,
        packed: torch.Tensor,
        absmax: torch.Tensor,
        quant_map: torch.Tensor,
        shape: tuple[int, int],
        blocksize: int,
        bias: torch.Tensor | None,
    ) -> None:
        super().__init__(*shape, bias)
        self.blocksize = blocksize
        self.register_buffer("weight", packed)
        self.register_buffer("absmax", absmax)
        self.register_buffer("quant_map", quant_map)

    def dequantized_weight(self, dtype: torch.dtype) -> torch.Tensor:
        """Uses bitsandbytes' kernel on CUDA when it is installed (its built-in NF4 table is the stored one)."""
        shape = (self.out_features, self.in_features)
        bnb = _bitsandbytes() if self.weight.is_cuda else None
        if bnb is None:
            return dequantize_nf4(self.weight, self.absmax, self.quant_map, shape, self.blocksize, dtype)
        state = bnb.QuantState(
            absmax=self.absmax,
            shape=torch.Size(shape),
            code=self.quant_map,
            blocksize=self.blocksize,
            quant_type="nf4",
            dtype=dtype,
        )
        return bnb.dequantize_4bit(self.weight, state)


class OfficialNf4:
    """bitsandbytes 4-bit files: NF4 without nested statistics is supported, anything else is refused."""

    name = "official-nf4"

    def detect(self, headers: Sequence[SafetensorsHeader], config: Mapping | None) -> bool:
        quantization = (config or {}).get("quantization_config") or {}
        if quantization.get("quant_method") == "bitsandbytes" and quantization.get("load_in_4bit"):
            return True
        return any(_STATE in name for header in headers for name in header.tensors)

    def take_linears(self, tensors: dict[str, torch.Tensor], compute_dtype: torch.dtype) -> dict[str, nn.Module]:
        state_keys = [name for name in tensors if _STATE in name]
        return {key.split(_STATE)[0]: _take_linear(tensors, key, compute_dtype) for key in state_keys}


def _take_linear(tensors: dict[str, torch.Tensor], state_key: str, compute_dtype: torch.dtype) -> Nf4Linear:
    """Pop one Linear's packed weight, statistics and bias; check them against the packed JSON state."""
    prefix = state_key.split(_STATE)[0]
    state = json.loads(bytes(tensors.pop(state_key).cpu().numpy()))
    nested = sorted(k for k in state if k.startswith("nested_"))
    if state.get("quant_type") != "nf4" or nested:
        found = f"nested statistics ({', '.join(nested)})" if nested else f"quant_type {state.get('quant_type')!r}"
        raise ModelFileError(
            f"{prefix}: bitsandbytes 4-bit weights with {found} are not supported; only NF4 without nested "
            "(double-quant) statistics, as in the official ideogram-4-nf4 release."
        )
    try:
        packed = tensors.pop(f"{prefix}.weight").view(torch.uint8)
        absmax = tensors.pop(f"{prefix}.weight.absmax").float()
        quant_map = tensors.pop(f"{prefix}.weight.quant_map").float()
        out_features, in_features = state["shape"]
        blocksize = int(state["blocksize"])
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(
            f"{prefix}: incomplete NF4 state (missing or bad {exc}). Download the file again."
        ) from exc
    n = out_features * in_features
    if packed.numel() != (n + 1) // 2 or absmax.numel() != -(-n // blocksize) or quant_map.numel() != 16:
        raise ModelFileError(
            f"{prefix}: NF4 tensors do not match shape {[out_features, in_features]} with blocksize {blocksize} "
            f"({packed.numel()} packed bytes, {absmax.numel()} absmax, {quant_map.numel()} quant_map entries)."
        )
    bias = tensors.pop(f"{prefix}.bias", None)
    bias = None if bias is None else bias.to(compute_dtype)
    return Nf4Linear(packed, absmax, quant_map, (out_features, in_features), blocksize, bias)
