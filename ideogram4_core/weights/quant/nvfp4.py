"""NVFP4 weights as ComfyUI stores them (comfy-kitchen's TensorCoreNVFP4Layout, SPEC §2.2).

`X.weight` uint8 [out, in/2]: two E2M1 codes per byte, the first (even) element in the high nibble.
`X.weight_scale` float8_e4m3fn: one scale per 16 consecutive elements of a row, in cuBLAS' tiled block-scale
layout. `X.weight_scale_2` fp32 scalar: the global scale. `W = e2m1 · block_scale · global_scale`.
"""

from __future__ import annotations

import functools

import torch

from .linear import DequantLinear

BLOCK = 16
E2M1_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0)
# Both values of every byte, high nibble first: one lookup decodes a byte.
_BYTE_PAIRS = torch.tensor([[E2M1_VALUES[b >> 4], E2M1_VALUES[b & 0xF]] for b in range(256)])


@functools.cache
def _byte_pairs(device: torch.device) -> torch.Tensor:
    return _BYTE_PAIRS.to(device)  # once per device: no host-to-device copy on every call


def unswizzle_block_scales(blocked: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """cuBLAS tiled block-scale layout → plain (rows, cols).

    The (rows, cols) matrix is zero-padded to multiples of (128, 4) and cut into 128×4 tiles, stored tile after
    tile (row tiles outermost); inside a tile, element (r, c) sits at offset (r % 32)·16 + (r // 32)·4 + c.
    """
    row_tiles, col_tiles = -(-rows // 128), -(-cols // 4)
    if blocked.numel() != row_tiles * col_tiles * 128 * 4:
        raise ValueError(f"{blocked.numel()} block scales do not fit the tiled layout of a {rows}×{cols} scale grid")
    # The 4 scales of one tile row (c = 0..3) stay together, so move them as whole 32-bit words: a byte-wise
    # permute of the grid is ~100× slower on the CPU. The clone aligns memory-mapped data for the word view.
    size = blocked.element_size()
    words = blocked.contiguous().view(torch.uint8).reshape(-1).clone().view(torch.int32)
    words = words.reshape(row_tiles, col_tiles, 32, 4, size).permute(0, 3, 2, 1, 4).contiguous()
    plain = words.view(torch.uint8).reshape(row_tiles * 128, col_tiles * 4 * size).view(blocked.dtype)
    return plain[:rows, :cols]


def dequantize_nvfp4(packed: torch.Tensor, block_scales: torch.Tensor, global_scale: torch.Tensor) -> torch.Tensor:
    """Float32 [out, in] from packed codes and plain (out, in/16) block scales.

    code · block scale is exact in float32, so multiplying by the global scale rounds once.
    """
    rows = packed.shape[0]
    values = _byte_pairs(packed.device)[packed.int()].reshape(rows, -1, BLOCK)
    return (values * block_scales.float().unsqueeze(-1) * global_scale.float()).reshape(rows, -1)


class Nvfp4Linear(DequantLinear):
    """A Linear holding NVFP4 codes (~0.5 byte/parameter plus one fp8 scale per 16); dequantised per call."""

    def __init__(
        self, packed: torch.Tensor, blocked_scales: torch.Tensor, global_scale: torch.Tensor, bias: torch.Tensor | None
    ) -> None:
        """`blocked_scales` in the tiled layout as stored; raises ValueError when the shapes disagree."""
        out_features, in_features = packed.shape[0], packed.shape[1] * 2
        if packed.dtype != torch.uint8 or packed.ndim != 2 or in_features % BLOCK:
            raise ValueError(f"packed codes must be uint8 [out, in/2] with in divisible by {BLOCK}")
        super().__init__(out_features, in_features, bias)
        scales = unswizzle_block_scales(blocked_scales.view(torch.float8_e4m3fn), out_features, in_features // BLOCK)
        self.register_buffer("weight", packed)
        self.register_buffer("weight_scale", scales.contiguous())
        self.register_buffer("weight_scale_2", global_scale.float().reshape(()))

    def dequantized_weight(self, dtype: torch.dtype) -> torch.Tensor:
        return dequantize_nvfp4(self.weight, self.weight_scale, self.weight_scale_2).to(dtype)
