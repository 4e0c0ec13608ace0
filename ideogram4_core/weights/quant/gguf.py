"""GGUF (llama.cpp / ggml) block formats: torch dequantisers and the layers that keep GGUF weights packed.

A quantised GGUF tensor is a sequence of blocks along each row: `block` weights stored in `size` bytes (an fp16
scale `d`, sometimes an fp16 minimum `m` or 6-bit sub-block scales, then the packed codes). The layouts are
ggml's (`ggml-quants.c`, mirrored by `gguf.quants` in the llama.cpp project's Python package). Every function
here computes in float32 with the same operations in the same order as `gguf.quants.dequantize`, so the results
are bit-identical to it on any device; the tests compare them on every supported type.

`GgufLinear` and `GgufEmbedding` hold the raw blocks (uint8 [rows, bytes per row]) and expand them when called:
a Linear's whole weight per call, an Embedding only the rows it looks up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .linear import DequantLinear

QK_K = 256
PLAIN_TYPES = ("F32", "F16", "BF16")
"""Unquantised GGML types: read as ordinary tensors."""

BLOCKS: dict[str, tuple[int, int]] = {
    "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2),
    "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34),
    "Q2_K": (QK_K, 84), "Q3_K": (QK_K, 110), "Q4_K": (QK_K, 144), "Q5_K": (QK_K, 176), "Q6_K": (QK_K, 210),
    "IQ4_NL": (32, 18),
}  # fmt: skip
"""GGML type name → (weights per block, bytes per block) for every type this module decodes."""

SUPPORTED_TYPES = tuple(BLOCKS)
IQ4_NL_VALUES = (-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113)


def _f16(blocks: torch.Tensor, start: int) -> torch.Tensor:
    """The fp16 stored at byte `start` of every block, as float32 (n, 1). (Block sizes and field offsets are
    even, so the byte slice views as fp16 without a copy.)"""
    return blocks[:, start : start + 2].view(torch.float16).float()


def _split(x: torch.Tensor, shifts: tuple[int, ...], mask: int, dim: int) -> torch.Tensor:
    """(x >> s) & mask for each shift, stacked along a new axis `dim`."""
    return torch.stack([(x >> s if s else x) & mask for s in shifts], dim=dim)


def _nibbles(qs: torch.Tensor, width: int) -> torch.Tensor:
    """Per group of `width` bytes: the low nibbles, then the high nibbles → (n, 2·bytes) uint8."""
    n = qs.shape[0]
    return _split(qs.reshape(n, -1, width), (0, 4), 0x0F, dim=2).reshape(n, -1)


def _bits32(field: torch.Tensor) -> torch.Tensor:
    """The 32 bits of a little-endian 32-bit field (n, 4 bytes), bit i first → (n, 32) uint8 (one shift of the
    whole word per bit, as the reference does; assumes a little-endian host, as ggml does)."""
    word = field.contiguous().view(torch.int32)
    shifts = torch.arange(32, dtype=torch.int32, device=field.device)
    return ((word >> shifts) & 1).to(torch.uint8)


def _q8_0(blocks: torch.Tensor) -> torch.Tensor:
    return blocks[:, 2:].view(torch.int8).float().mul_(_f16(blocks, 0))


def _q4_0(blocks: torch.Tensor) -> torch.Tensor:
    q = _nibbles(blocks[:, 2:], 16).to(torch.int8) - 8
    return q.float().mul_(_f16(blocks, 0))


def _q4_1(blocks: torch.Tensor) -> torch.Tensor:
    return _nibbles(blocks[:, 4:], 16).float().mul_(_f16(blocks, 0)).add_(_f16(blocks, 2))


def _q5(blocks: torch.Tensor, high_bits_at: int) -> torch.Tensor:
    """The 5-bit codes of Q5_0/Q5_1: 4 low bits as nibbles, the fifth from a 32-bit little-endian field."""
    high = _bits32(blocks[:, high_bits_at : high_bits_at + 4])
    return _nibbles(blocks[:, high_bits_at + 4 :], 16) | (high << 4)


def _q5_0(blocks: torch.Tensor) -> torch.Tensor:
    return (_q5(blocks, 2).to(torch.int8) - 16).float().mul_(_f16(blocks, 0))


def _q5_1(blocks: torch.Tensor) -> torch.Tensor:
    return _q5(blocks, 4).float().mul_(_f16(blocks, 0)).add_(_f16(blocks, 2))


def _iq4_nl(blocks: torch.Tensor) -> torch.Tensor:
    table = torch.tensor(IQ4_NL_VALUES, dtype=torch.float32, device=blocks.device)
    return table[_nibbles(blocks[:, 2:], 16).long()].mul_(_f16(blocks, 0))


def _k_scales(scales: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The eight 6-bit scales and minimums packed in 12 bytes (Q4_K, Q5_K), as float32 (n, 8) each."""
    n = scales.shape[0]
    d, m, m_d = scales.reshape(n, 3, 4).unbind(1)
    sc = torch.cat([d & 0x3F, (m_d & 0x0F) | ((d >> 2) & 0x30)], dim=-1)
    mins = torch.cat([m & 0x3F, (m_d >> 4) | ((m >> 2) & 0x30)], dim=-1)
    return sc.float(), mins.float()


def _q2_k(blocks: torch.Tensor) -> torch.Tensor:
    n = blocks.shape[0]
    scales, qs = blocks[:, :16], blocks[:, 16:80]
    dl = (_f16(blocks, 80) * (scales & 0x0F).float()).reshape(n, 16, 1)
    ml = (_f16(blocks, 82) * (scales >> 4).float()).reshape(n, 16, 1)
    q = _split(qs.reshape(n, 2, 32), (0, 2, 4, 6), 0x03, dim=2).reshape(n, 16, 16).float()
    return (dl * q - ml).reshape(n, QK_K)


def _q3_k(blocks: torch.Tensor) -> torch.Tensor:
    n = blocks.shape[0]
    hmask, qs, packed = blocks[:, :32], blocks[:, 32:96], blocks[:, 96:108]
    low = _split(packed[:, :8].reshape(n, 1, 8), (0, 4), 0x0F, dim=1).reshape(n, 16)
    high = _split(packed[:, 8:].reshape(n, 1, 4), (0, 2, 4, 6), 0x03, dim=1).reshape(n, 16)
    scales = ((low | (high << 4)).to(torch.int8) - 32).float()
    dl = (_f16(blocks, 108) * scales).reshape(n, 16, 1)
    ql = _split(qs.reshape(n, 2, 32), (0, 2, 4, 6), 0x03, dim=2).reshape(n, 16, 16)
    qh = _split(hmask.reshape(n, 1, 32), tuple(range(8)), 1, dim=2).reshape(n, 16, 16) ^ 1
    q = (ql.to(torch.int8) - (qh << 2).to(torch.int8)).float()  # a set mask bit means "no offset of 4"
    return (dl * q).reshape(n, QK_K)


def _k_4_5(blocks: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """d·scale·q − dmin·min for Q4_K/Q5_K, given the codes q (n, 8, 32)."""
    n = blocks.shape[0]
    sc, mins = _k_scales(blocks[:, 4:16])
    d = (_f16(blocks, 0) * sc).reshape(n, 8, 1)
    dm = (_f16(blocks, 2) * mins).reshape(n, 8, 1)
    return (d * q.float() - dm).reshape(n, QK_K)


def _q4_k(blocks: torch.Tensor) -> torch.Tensor:
    return _k_4_5(blocks, _nibbles(blocks[:, 16:], 32).reshape(-1, 8, 32))


def _q5_k(blocks: torch.Tensor) -> torch.Tensor:
    n = blocks.shape[0]
    qh = _split(blocks[:, 16:48].reshape(n, 1, 32), tuple(range(8)), 1, dim=2).reshape(n, 8, 32)
    ql = _nibbles(blocks[:, 48:], 32).reshape(n, 8, 32)
    return _k_4_5(blocks, ql | (qh << 4))


def _q6_k(blocks: torch.Tensor) -> torch.Tensor:
    n = blocks.shape[0]
    ql = _nibbles(blocks[:, :128], 64).reshape(n, 8, 32)
    qh = _split(blocks[:, 128:192].reshape(n, 2, 32), (0, 2, 4, 6), 0x03, dim=2).reshape(n, 8, 32)
    q = ((ql | (qh << 4)).to(torch.int8) - 32).reshape(n, 16, 16).float()
    d = (_f16(blocks, 208) * blocks[:, 192:208].view(torch.int8).float()).reshape(n, 16, 1)
    return (d * q).reshape(n, QK_K)


_DECODERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "F32": lambda b: b.contiguous().view(torch.float32),
    "F16": lambda b: b.contiguous().view(torch.float16).float(),
    "BF16": lambda b: b.contiguous().view(torch.bfloat16).float(),
    "Q4_0": _q4_0, "Q4_1": _q4_1, "Q5_0": _q5_0, "Q5_1": _q5_1, "Q8_0": _q8_0,
    "Q2_K": _q2_k, "Q3_K": _q3_k, "Q4_K": _q4_k, "Q5_K": _q5_k, "Q6_K": _q6_k, "IQ4_NL": _iq4_nl,
}  # fmt: skip


def row_bytes(qtype: str, elements: int) -> int:
    """Bytes one row of `elements` weights takes; ValueError when the row is not a whole number of blocks."""
    block, size = BLOCKS[qtype]
    if elements % block:
        raise ValueError(f"a row of {elements} weights is not a whole number of {qtype} blocks of {block}")
    return elements // block * size


def dequantize(data: torch.Tensor, qtype: str) -> torch.Tensor:
    """uint8 blocks [..., bytes per row] of GGML type `qtype` → float32 [..., weights per row].

    Bit-identical to `gguf.quants.dequantize` (same float32 operations in the same order).
    """
    block, size = BLOCKS[qtype]
    rows = data.shape[:-1]
    values = _DECODERS[qtype](data.reshape(-1, size))
    return values.reshape(*rows, data.shape[-1] // size * block)


@dataclass(frozen=True)
class GgufTensor:
    """A quantised GGUF tensor as stored: uint8 blocks [rows, bytes per row] and its logical torch shape."""

    blocks: torch.Tensor
    qtype: str
    shape: tuple[int, ...]

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return dequantize(self.blocks, self.qtype).reshape(self.shape).to(dtype)


def take_gguf_modules(
    tensors: dict[str, object], module_types: Mapping[str, type[nn.Module]], compute_dtype: torch.dtype
) -> dict[str, nn.Module]:
    """Turn the quantised tensors in `tensors` into modules that keep them packed; returns them by module path.

    `X.weight` of a Linear X becomes a `GgufLinear` (taking `X.bias` along), of an Embedding a `GgufEmbedding`.
    Any other quantised tensor (e.g. a small 2-row table) is dequantised exactly in place into a plain tensor.
    """
    modules: dict[str, nn.Module] = {}
    for name in [n for n, t in tensors.items() if isinstance(t, GgufTensor)]:
        stored: GgufTensor = tensors[name]  # type: ignore[assignment]
        path, _, leaf = name.rpartition(".")
        kind = module_types.get(path) if leaf == "weight" and len(stored.shape) == 2 else None
        if kind is not None and issubclass(kind, nn.Linear):
            del tensors[name]
            bias = tensors.pop(f"{path}.bias", None)
            bias = bias.dequantize(compute_dtype) if isinstance(bias, GgufTensor) else bias
            modules[path] = GgufLinear(stored.blocks, stored.qtype, stored.shape[1], _cast(bias, compute_dtype))
        elif kind is not None and issubclass(kind, nn.Embedding):
            del tensors[name]
            modules[path] = GgufEmbedding(stored.blocks, stored.qtype, stored.shape[1], compute_dtype)
        else:
            tensors[name] = stored.dequantize(compute_dtype)
    return modules


def _cast(tensor: object, dtype: torch.dtype) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(dtype)  # type: ignore[union-attr]


class GgufLinear(DequantLinear):
    """A Linear whose weight stays in its GGUF blocks (uint8 [out, bytes per row]); expanded on every call."""

    def __init__(self, blocks: torch.Tensor, qtype: str, in_features: int, bias: torch.Tensor | None) -> None:
        super().__init__(blocks.shape[0], in_features, bias)
        self.qtype = qtype
        self.register_buffer("weight", blocks)

    def dequantized_weight(self, dtype: torch.dtype) -> torch.Tensor:
        return dequantize(self.weight, self.qtype).to(dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, qtype={self.qtype}"


class GgufEmbedding(nn.Module):
    """An Embedding table kept in its GGUF blocks; a lookup expands only the rows it reads (rows are
    independent: every row is a whole number of blocks). Returns `dtype` (the compute dtype)."""

    def __init__(self, blocks: torch.Tensor, qtype: str, embedding_dim: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = blocks.shape[0], embedding_dim
        self.qtype, self.dtype = qtype, dtype
        self.register_buffer("weight", blocks)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return dequantize(F.embedding(ids, self.weight), self.qtype).to(self.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, qtype={self.qtype}"
