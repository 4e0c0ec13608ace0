"""Qwen3-VL's vision tower: a reference image → features for the image tokens of a prompt.

Patch embedding (a Conv3d with stride = kernel, run as a Linear over the flattened patches), learned position
embeddings resampled bilinearly (corners aligned) to the image's patch grid, 2-D rotary (rows on the first half
of each head's frequencies, columns on the second), pre-norm ViT blocks (LayerNorm, fused qkv, GELU-tanh MLP),
full attention over the image, then a 2×2 patch merger to the language tower's width. The deepstack mergers
turn the outputs of some blocks (`deepstack_indexes`) into features the causal LM adds to the image tokens'
hidden states after its first decoder layers. Patches arrive in merge-block order (`vision_input`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelFileError
from ..weights.identify import read_weight_header
from ..weights.quant import detect_format
from ..weights.safetensors_io import weight_files
from .modules import materialize, zero_embedding
from .text_encoder import apply_rope, read_qwen_config, read_tensors, text_encoder_path
from .vision_input import ImageProcessing, image_patches

VISION_PREFIXES = ("visual.", "model.visual.")
"""Where the tower's tensors live: the official text_encoder/ (head-less Qwen3VLModel), the HF original."""
WHERE_VISION = (
    "A reference image needs Qwen3-VL-8B's vision tower: load the text encoder from the official text_encoder/ "
    "folder (visual.* tensors) or the Hugging Face Qwen3-VL-8B-Instruct folder (model.visual.* tensors), each "
    "with its config.json. ComfyUI's qwen3vl_8b_*.safetensors files and GGUF text encoders hold the language "
    "tower only. Or describe the image in words as the idea."
)
_LAYER_NORM_EPS = 1e-6


@dataclass(frozen=True)
class VisionConfig:
    """Sizes of the vision tower (transformers' `vision_config`)."""

    depth: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    out_hidden_size: int
    num_position_embeddings: int
    deepstack_indexes: tuple[int, ...]
    patch_size: int = 16
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    in_channels: int = 3
    rope_theta: float = 10_000.0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def grid_side(self) -> int:
        """Side of the square grid of learned position embeddings."""
        return math.isqrt(self.num_position_embeddings)

    @classmethod
    def from_hf(cls, vision: Mapping, source: str) -> VisionConfig:
        """From config.json's `vision_config`; ModelFileError for settings this tower does not implement."""
        rope = vision.get("rope_parameters") or {}
        act, rope_type = vision.get("hidden_act", "gelu_pytorch_tanh"), rope.get("rope_type", "axial")
        if act != "gelu_pytorch_tanh" or rope_type != "axial":
            raise ModelFileError(
                f"{source}/config.json's vision tower uses activation {act!r} / rope {rope_type!r}; only Qwen3-VL's "
                "GELU-tanh with axial 2-D RoPE is supported. Use a Qwen3-VL-8B folder."
            )
        try:
            cfg = cls(
                depth=vision["depth"],
                hidden_size=vision["hidden_size"],
                intermediate_size=vision["intermediate_size"],
                num_heads=vision["num_heads"],
                out_hidden_size=vision["out_hidden_size"],
                num_position_embeddings=vision["num_position_embeddings"],
                deepstack_indexes=tuple(vision.get("deepstack_visual_indexes", (8, 16, 24))),
                patch_size=vision.get("patch_size", 16),
                temporal_patch_size=vision.get("temporal_patch_size", 2),
                spatial_merge_size=vision.get("spatial_merge_size", 2),
                in_channels=vision.get("in_channels", 3),
                rope_theta=float(rope.get("rope_theta", 10_000.0)),
            )
        except KeyError as exc:
            raise ModelFileError(f"{source}/config.json lacks vision_config field {exc}; download it again.") from None
        if cfg.grid_side**2 != cfg.num_position_embeddings:
            raise ModelFileError(
                f"{source}/config.json: num_position_embeddings {cfg.num_position_embeddings} is not a square grid."
            )
        return cfg


@dataclass(frozen=True)
class ImageFeatures:
    """What the causal LM needs of one image: the merged token embeddings (tokens, LM hidden), the deepstack
    features added after decoder layers 0, 1, … (same shape each) and the merged grid (rows, columns)."""

    embeds: torch.Tensor
    deepstack: tuple[torch.Tensor, ...]
    grid: tuple[int, int]

    @property
    def tokens(self) -> int:
        return self.grid[0] * self.grid[1]


class PatchEmbed(nn.Module):
    """Conv3d weights (hidden, C, T, P, P) applied to flattened (C·T·P·P) patches as one matmul."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        kernel = (cfg.temporal_patch_size, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(cfg.in_channels, cfg.hidden_size, kernel_size=kernel, stride=kernel)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        weight = self.proj.weight
        return F.linear(patches.to(weight.dtype), weight.flatten(1), self.proj.bias)


class VisionAttention(nn.Module):
    """Bidirectional multi-head attention with a fused qkv projection and 2-D rotary (in float32)."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.heads = cfg.num_heads
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        length = x.shape[0]
        q, k, v = self.qkv(x).view(length, 3, self.heads, -1).unbind(1)
        q = apply_rope(q.float(), cos, sin).to(v.dtype)
        k = apply_rope(k.float(), cos, sin).to(v.dtype)
        out = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1))
        return self.proj(out.transpose(0, 1).reshape(length, -1))


class VisionMLP(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.linear_fc1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.linear_fc2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_fc2(F.gelu(self.linear_fc1(x), approximate="tanh"))


class VisionBlock(nn.Module):
    """x + attn(norm1 x), then x + mlp(norm2 x)."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.hidden_size, eps=_LAYER_NORM_EPS)
        self.norm2 = nn.LayerNorm(cfg.hidden_size, eps=_LAYER_NORM_EPS)
        self.attn = VisionAttention(cfg)
        self.mlp = VisionMLP(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class PatchMerger(nn.Module):
    """Each 2×2 block of patches → one LM-wide token: LayerNorm (per patch, or over the concatenated block with
    `after_merge`), Linear, GELU, Linear."""

    def __init__(self, cfg: VisionConfig, after_merge: bool) -> None:
        super().__init__()
        self.merged = cfg.hidden_size * cfg.spatial_merge_size**2
        self.after_merge = after_merge
        self.norm = nn.LayerNorm(self.merged if after_merge else cfg.hidden_size, eps=_LAYER_NORM_EPS)
        self.linear_fc1 = nn.Linear(self.merged, self.merged)
        self.linear_fc2 = nn.Linear(self.merged, cfg.out_hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x.reshape(-1, self.merged)) if self.after_merge else self.norm(x).reshape(-1, self.merged)
        return self.linear_fc2(F.gelu(self.linear_fc1(x)))


class VisionTower(nn.Module):
    """Patches (grid_h·grid_w, C·T·P·P) of one image, in merge-block order → `ImageFeatures`."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.config = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.pos_embed = zero_embedding(cfg.num_position_embeddings, cfg.hidden_size)
        self.blocks = nn.ModuleList(VisionBlock(cfg) for _ in range(cfg.depth))
        self.merger = PatchMerger(cfg, after_merge=False)
        self.deepstack_merger_list = nn.ModuleList(PatchMerger(cfg, after_merge=True) for _ in cfg.deepstack_indexes)

    def forward(self, patches: torch.Tensor, grid: tuple[int, int]) -> ImageFeatures:
        cfg = self.config
        merge = cfg.spatial_merge_size
        if grid[0] % merge or grid[1] % merge or patches.shape[0] != grid[0] * grid[1]:
            raise ValueError(f"{patches.shape[0]} patches do not form a {grid[0]}×{grid[1]} grid of {merge}×{merge}")
        x = self.patch_embed(patches)
        x = x + self._position_embeddings(grid).to(x.dtype)
        cos, sin = self._rotary(grid, x.device)
        deepstack = []
        for index, block in enumerate(self.blocks):
            x = block(x, cos, sin)
            if index in cfg.deepstack_indexes:
                deepstack.append(self.deepstack_merger_list[cfg.deepstack_indexes.index(index)](x))
        return ImageFeatures(self.merger(x), tuple(deepstack), (grid[0] // merge, grid[1] // merge))

    def _position_embeddings(self, grid: tuple[int, int]) -> torch.Tensor:
        """The learned grid resampled to grid_h × grid_w (bilinear, corners aligned), in float32, block order."""
        side = self.config.grid_side
        table = self.pos_embed.weight.float().view(side, side, -1)
        device = table.device
        rows, cols = _bilinear_weights(grid[0], side, device), _bilinear_weights(grid[1], side, device)
        return self._block_order(torch.einsum("ia,abd,jb->ijd", rows, table, cols))

    def _rotary(self, grid: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin (patches, 1, head_dim) in float32: row angles, column angles, both halves duplicated."""
        half = self.config.head_dim // 2  # rows and columns get half of the head's rotary dimensions each
        steps = torch.arange(0, half, 2, dtype=torch.float32, device=device)
        inv_freq = 1.0 / (self.config.rope_theta ** (steps / half))
        rows = torch.arange(grid[0], device=device)[:, None].expand(grid)
        cols = torch.arange(grid[1], device=device)[None, :].expand(grid)
        coords = self._block_order(torch.stack((rows, cols), dim=-1)).float()  # (patches, 2)
        angles = (coords[:, :, None] * inv_freq).flatten(1)
        angles = torch.cat((angles, angles), dim=-1)[:, None, :]
        return angles.cos(), angles.sin()

    def _block_order(self, x: torch.Tensor) -> torch.Tensor:
        """(grid_h, grid_w, d) in raster order → (grid_h·grid_w, d) in merge-block order."""
        m = self.config.spatial_merge_size
        h, w = x.shape[:2]
        return x.reshape(h // m, m, w // m, m, -1).permute(0, 2, 1, 3, 4).reshape(h * w, -1)


def _bilinear_weights(size: int, side: int, device: torch.device) -> torch.Tensor:
    """(size, side) weights that resample `side` samples to `size` linearly, the end samples aligned."""
    index = torch.arange(size, dtype=torch.float32, device=device)
    source = index * (side - 1) / max(size - 1, 1)
    low = source.floor()
    frac = source - low
    low = low.long()
    high = (low + 1).clamp(max=side - 1)
    weights = torch.zeros(size, side, device=device)
    weights.index_put_((index.long(), low), 1 - frac, accumulate=True)
    weights.index_put_((index.long(), high), frac, accumulate=True)
    return weights


class VisionEncoder:
    """Preprocessing and the tower together: an RGB image (H, W, 3) in [0, 1] → `ImageFeatures`."""

    def __init__(self, tower: VisionTower, processing: ImageProcessing) -> None:
        self.tower = tower
        self.processing = processing

    @property
    def device(self) -> torch.device:
        return self.tower.pos_embed.weight.device

    def encode(self, image: torch.Tensor) -> ImageFeatures:
        patches, grid = image_patches(image, self.processing)
        with torch.inference_mode():
            return self.tower(patches.to(self.device), grid)


def load_vision_encoder(path: str | Path, *, device: torch.device | str, dtype: torch.dtype) -> VisionEncoder:
    """The vision tower of a text encoder folder (official `text_encoder/` or the HF original, single or sharded)
    and its preprocessing; reads only the tower's tensors. Quantised Linears stay quantised (any registered
    format). ModelFileError naming the files needed when the tower is not there."""
    path = text_encoder_path(path)
    if not path.is_dir():
        raise ModelFileError(f"{path.name} is a single file, and those hold no vision tower. {WHERE_VISION}")
    config = read_qwen_config(path)
    if "vision_config" not in config:
        raise ModelFileError(f"{path}/config.json has no vision_config. {WHERE_VISION}")
    cfg = VisionConfig.from_hf(config["vision_config"], str(path))
    headers = [read_weight_header(file) for file in weight_files(path)]
    located = {name: header.path for header in headers for name in header.tensors}
    prefix = next((p for p in VISION_PREFIXES if f"{p}patch_embed.proj.weight" in located), None)
    if prefix is None:
        raise ModelFileError(f"{path} holds no vision tower (no visual.* tensors). {WHERE_VISION}")
    stored = read_tensors({name: file for name, file in located.items() if name.startswith(prefix)}, device)
    state = {name[len(prefix) :]: tensor for name, tensor in stored.items()}
    linears = detect_format(headers, config).take_linears(state, dtype)
    tower = materialize(
        lambda: VisionTower(cfg), state, dtype=dtype, what=f"Qwen3-VL vision tower ({path.name})",
        replacements=linears,
    )  # fmt: skip
    processing = ImageProcessing.for_model(path, cfg.patch_size, cfg.temporal_patch_size, cfg.spatial_merge_size)
    return VisionEncoder(tower.to(device), processing)
