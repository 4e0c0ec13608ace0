"""ComfyUI's int8 weights (`int8_tensorwise`: comfy-kitchen's TensorWiseINT8Layout, read by ComfyUI's `ops.py`).

`X.weight` int8 [out, in]; `X.weight_scale` float32, one scale for the tensor or one per output row ([out, 1]);
`W = q · s` in float32. Files written with ConvRot (`"convrot": true` in the layer's `comfy_quant`, group size
`convrot_groupsize`, default 256, a power of 4) store each group of input columns rotated by the normalised
regular Hadamard matrix H: the weight is `(q · s) · Hᵀ` per group, as comfy-kitchen dequantises it.
"""

from __future__ import annotations

import functools

import torch

from .linear import DequantLinear

_H4 = ((1, 1, 1, -1), (1, 1, -1, 1), (1, -1, 1, 1), (-1, 1, 1, 1))


@functools.cache
def hadamard(size: int, device: torch.device) -> torch.Tensor:
    """The regular Hadamard matrix of order `size` (a power of 4, Kronecker powers of H4), divided by √size."""
    if size < 4 or size & (size - 1) or (size.bit_length() - 1) % 2:
        raise ValueError(f"ConvRot group size {size} is not a power of 4")
    h4 = torch.tensor(_H4, dtype=torch.float32)
    matrix = h4
    while matrix.shape[0] < size:
        matrix = torch.kron(matrix, h4)
    return (matrix / size**0.5).to(device)


class Int8Linear(DequantLinear):
    """A Linear holding its int8 weight (1 byte/parameter) and float32 scale; dequantised on every call."""

    def __init__(
        self, weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None, convrot_groupsize: int | None
    ) -> None:
        """Raises ValueError when the scale fits neither the tensor nor its rows, or ConvRot groups do not fit."""
        out_features, in_features = weight.shape
        if scale.numel() not in (1, out_features):
            raise ValueError(f"a weight scale of shape {tuple(scale.shape)} fits neither the tensor nor its rows")
        if convrot_groupsize is not None:
            hadamard(convrot_groupsize, torch.device("cpu"))
            if in_features % convrot_groupsize:
                raise ValueError(f"{in_features} input features are not whole ConvRot groups of {convrot_groupsize}")
        super().__init__(out_features, in_features, bias)
        self.register_buffer("weight", weight)
        self.register_buffer("weight_scale", scale.float().reshape(-1, 1))
        self.convrot_groupsize = convrot_groupsize

    def dequantized_weight(self, dtype: torch.dtype) -> torch.Tensor:
        weight = self.weight.float() * self.weight_scale
        if self.convrot_groupsize is not None:
            group = self.convrot_groupsize
            rotation = hadamard(group, weight.device)
            weight = torch.matmul(weight.reshape(self.out_features, -1, group), rotation.T).reshape(weight.shape)
        return weight.to(dtype)
