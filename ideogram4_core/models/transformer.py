"""The Ideogram 4 diffusion transformer (SPEC §2), used for both the conditional and unconditional branch.

Parameter names are the original ones (fused `attention.qkv`, `attention.o`). Unlike the reference, the
sequence holds only real tokens: `[text][image]` for the conditional branch and `[image]` alone for the
unconditional one, so no 2048-token padding is ever computed and single-caption batches need no mask.

What stays constant over a sampling run (the caption rows `llm_cond_proj(llm_cond_norm(·))`, the rotary tables in
the compute dtype, the attention mask) is computed once by `prepare`; `run` then does one step with no host sync.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelFileError
from .modules import zero_embedding

IMAGE_POSITION_OFFSET = 65536
REAL_HIDDEN_SIZE = 4608


@dataclass(frozen=True)
class TransformerConfig:
    in_channels: int = 128
    num_layers: int = 34
    attention_head_dim: int = 256
    num_attention_heads: int = 18
    intermediate_size: int = 12288
    adaln_dim: int = 512
    llm_features_dim: int = 53248
    rope_theta: float = 5_000_000.0
    mrope_section: tuple[int, int, int] = (24, 20, 20)
    norm_eps: float = 1e-5

    @property
    def hidden_size(self) -> int:
        return self.attention_head_dim * self.num_attention_heads

    @property
    def is_full_size(self) -> bool:
        """True for the released model's width; smaller configs are test/demo models."""
        return self.hidden_size >= REAL_HIDDEN_SIZE

    @classmethod
    def from_dict(cls, config: dict) -> TransformerConfig:
        """Accept a diffusers `config.json` (unknown keys such as `_class_name` are ignored)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in config.items() if k in names}
        if "mrope_section" in values:
            values["mrope_section"] = tuple(values["mrope_section"])
        return cls(**values)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.rms_norm(x.float(), x.shape[-1:], eps=self.eps)  # one fused kernel, normalised in float32
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            x = x.to(self.weight.dtype)
        return x * self.weight


class Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.head_dim = cfg.attention_head_dim
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size, bias=False)
        self.o = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=False)
        self.norm_q = RMSNorm(self.head_dim, eps=1e-5)
        self.norm_k = RMSNorm(self.head_dim, eps=1e-5)

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor | None
    ) -> torch.Tensor:
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        cos, sin = rope
        q = _apply_rotary(self.norm_q(q), cos, sin)
        k = _apply_rotary(self.norm_k(k), cos, sin)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.o(out.transpose(1, 2).reshape(b, s, -1))


def _apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        dim, eps = cfg.hidden_size, cfg.norm_eps
        self.attention = Attention(cfg)
        self.feed_forward = FeedForward(dim, cfg.intermediate_size)
        self.attention_norm1 = RMSNorm(dim, eps)
        self.attention_norm2 = RMSNorm(dim, eps)
        self.ffn_norm1 = RMSNorm(dim, eps)
        self.ffn_norm2 = RMSNorm(dim, eps)
        self.adaln_modulation = nn.Linear(cfg.adaln_dim, 4 * dim)

    def forward(
        self, h: torch.Tensor, adaln: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor | None
    ) -> torch.Tensor:
        scale_a, gate_a, scale_f, gate_f = self.adaln_modulation(adaln).unsqueeze(1).chunk(4, dim=-1)
        attn = self.attention(self.attention_norm1(h) * (1 + scale_a), rope, mask)
        h = h + torch.tanh(gate_a) * self.attention_norm2(attn)
        ffn = self.feed_forward(self.ffn_norm1(h) * (1 + scale_f))
        return h + torch.tanh(gate_f) * self.ffn_norm2(ffn)


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp_in = nn.Linear(dim, dim)
        self.mlp_out = nn.Linear(dim, dim)

    def forward(self, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """`t` is model time in [0, 1]; the reference rounds it to the compute dtype before the sinusoid."""
        half = self.mlp_in.in_features // 2
        freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(1e4) / (half - 1)))
        angles = (t.to(dtype).float() * 1e4).unsqueeze(-1) * freqs
        emb = torch.cat([angles.sin(), angles.cos()], dim=-1).to(dtype)
        return self.mlp_out(F.silu(self.mlp_in(emb)))


class FinalLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.linear = nn.Linear(cfg.hidden_size, cfg.in_channels)
        self.adaln_modulation = nn.Linear(cfg.adaln_dim, cfg.hidden_size)

    def forward(self, h: torch.Tensor, adaln: torch.Tensor) -> torch.Tensor:
        scale = 1 + self.adaln_modulation(F.silu(adaln)).unsqueeze(1)
        return self.linear(F.layer_norm(h, h.shape[-1:], eps=1e-6) * scale)


@dataclass(frozen=True)
class BranchInputs:
    """What one branch reuses at every step of a run (from `Ideogram4Transformer.prepare`).

    `rope`: cos/sin in the compute dtype; `text_rows`: the projected caption rows (None: image tokens only);
    `mask`: the attention mask, None when every row is real; `blocks`: what runs each block (the blocks
    themselves, or compiled versions of them, see `models.compile`).
    """

    rope: tuple[torch.Tensor, torch.Tensor]
    text_rows: torch.Tensor | None
    mask: torch.Tensor | None
    blocks: Sequence[Callable[..., torch.Tensor]]


class Ideogram4Transformer(nn.Module):
    """Predicts the flow-matching velocity (toward data) for the image tokens."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.config = cfg
        dim = cfg.hidden_size
        self.input_proj = nn.Linear(cfg.in_channels, dim)
        self.llm_cond_norm = RMSNorm(cfg.llm_features_dim, eps=1e-6)
        self.llm_cond_proj = nn.Linear(cfg.llm_features_dim, dim)
        self.t_embedding = TimestepEmbedding(dim)
        self.adaln_proj = nn.Linear(dim, cfg.adaln_dim)
        self.embed_image_indicator = zero_embedding(2, dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
        self.final_layer = FinalLayer(cfg)

    @property
    def dtype(self) -> torch.dtype:
        return self.embed_image_indicator.weight.dtype

    def rotary(self, text_len: int, grid: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin of shape (text_len + H*W, head_dim) for a `[text][image]` sequence, in float32."""
        sections, head_dim = self.config.mrope_section, self.config.attention_head_dim
        if 3 * max(sections) > head_dim // 2:
            raise ModelFileError(
                f"Rotary sections {tuple(sections)} need attention heads of at least {6 * max(sections)} channels, "
                f"but this model has {head_dim}. A single file carries no config, so its heads must be the "
                "released 256 wide; give a folder with its config.json for other shapes."
            )
        gh, gw = grid
        text = torch.arange(text_len, device=device).unsqueeze(1).expand(-1, 3)
        rows = torch.arange(gh, device=device).repeat_interleave(gw)
        cols = torch.arange(gw, device=device).repeat(gh)
        image = torch.stack([torch.zeros_like(rows), rows, cols], dim=1) + IMAGE_POSITION_OFFSET
        return mrope_angles(torch.cat([text, image]), self.config)

    def prepare(
        self,
        rope: tuple[torch.Tensor, torch.Tensor],
        text: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        blocks: Sequence[Callable[..., torch.Tensor]] | None = None,
    ) -> BranchInputs:
        """The per-run constants for `run`: caption rows, rotary tables and mask (see `forward` for the inputs)."""
        dtype = self.dtype
        text_rows = mask = None
        if text is not None:
            if text.shape[0] > 1 and text.stride(0) == 0:  # one caption shared by the batch: project it once
                text = text[:1]
            text_rows = self.llm_cond_proj(self.llm_cond_norm(text.to(dtype))) + self.embed_image_indicator.weight[0]
            if text_mask is not None and not bool(text_mask.all()):
                keep_image = text_mask.new_ones(text_mask.shape[0], rope[0].shape[0] - text_mask.shape[1])
                mask = torch.cat([text_mask, keep_image], dim=1)[:, None, None, :]
        cos, sin = (r.to(dtype) for r in rope)
        return BranchInputs((cos, sin), text_rows, mask, list(self.layers) if blocks is None else blocks)

    def time_conditioning(self, t: torch.Tensor) -> torch.Tensor:
        """The AdaLN input `silu(adaln_proj(t_embedding(t)))` (B, adaln_dim) for model time `t` (B,)."""
        return F.silu(self.adaln_proj(self.t_embedding(t, self.dtype)))

    def embed(self, x: torch.Tensor, inputs: BranchInputs) -> torch.Tensor:
        """The packed sequence entering the first block: `[caption rows][image rows]`."""
        image_rows = self.input_proj(x.to(self.dtype)) + self.embed_image_indicator.weight[1]
        if inputs.text_rows is None:
            return image_rows
        return torch.cat([inputs.text_rows.expand(x.shape[0], -1, -1), image_rows], dim=1)

    def head(self, h: torch.Tensor, adaln: torch.Tensor, num_image: int) -> torch.Tensor:
        """The velocity of the last `num_image` rows of the final hidden state."""
        return self.final_layer(h[:, h.shape[1] - num_image :], adaln)

    def run(self, x: torch.Tensor, t: torch.Tensor, inputs: BranchInputs) -> torch.Tensor:
        """One step: velocity for image tokens `x` (B, N, in_channels) at model time `t` (B,)."""
        adaln = self.time_conditioning(t)
        h = self.embed(x, inputs)
        for block in inputs.blocks:
            h = block(h, adaln, inputs.rope, inputs.mask)
        return self.head(h, adaln, x.shape[1])

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        text: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity for image tokens `x` (B, N, in_channels) at model time `t` (B,).

        `text` (B, L, llm_features_dim) holds the caption features (None: unconditional branch, image tokens
        only). `text_mask` (B, L) marks real text rows when captions of different lengths are padded to L.
        `rope` comes from `rotary(L, grid)` (or `rotary(0, grid)` without text). Samplers call `prepare` once
        and `run` per step instead.
        """
        return self.run(x, t, self.prepare(rope, text, text_mask))


def mrope_angles(positions: torch.Tensor, cfg: TransformerConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved 3-axis rotary embedding for (S, 3) integer positions, computed in float32 (SPEC §2.6)."""
    head_dim = cfg.attention_head_dim
    with torch.autocast(device_type=positions.device.type, enabled=False):
        inv_freq = 1.0 / (
            cfg.rope_theta ** (torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim)
        )
        freqs = positions.float().unsqueeze(-1) * inv_freq  # (S, 3, head_dim / 2)
        angles = freqs[:, 0].clone()
        for axis in (1, 2):
            idx = torch.arange(axis, 3 * cfg.mrope_section[axis], 3, device=positions.device)
            angles[:, idx] = freqs[:, axis, idx]
        emb = torch.cat([angles, angles], dim=-1)
        return emb.cos(), emb.sin()
