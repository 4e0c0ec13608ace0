"""Qwen3-VL language tower that returns the tapped decoder-layer outputs Ideogram 4 is conditioned on.

Only the layers up to the last tap are built (for Qwen3-VL-8B: all 36) plus, for a 36-layer tower, the final
norm (the magic prompt's causal LM runs through it; the features never do). The vision tower and the LM head
are not loaded here: the magic prompt reads them itself (`vision`, `lm_head`).
For text-only input Qwen3-VL's interleaved MRoPE has equal positions on all three axes, which is exactly
ordinary 1-D rotate-half RoPE over positions 0..n-1 (a prompt holding an image: see `mrope`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

from ..errors import ModelFileError
from ..weights.gguf_io import GgufHeader, is_gguf, load_gguf_tensors, read_vocabulary
from ..weights.identify import expect, read_weight_header
from ..weights.quant import detect_format
from ..weights.quant.comfy import metadata_markers
from ..weights.quant.fp8 import use_fp8_matmul
from ..weights.quant.gguf import take_gguf_modules
from ..weights.safetensors_io import weight_files
from .kv_cache import LayerCache
from .modules import materialize, module_types, zero_embedding
from .tokenizer import CaptionTokenizer, bundled_tokenizer_dir

TAP_LAYERS = (0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 35)
"""Decoder layers (0-based) whose outputs are stacked into the text features."""

# Where the language tower's tensors live, most specific first: the official Ideogram 4 text_encoder/ (head-less
# Qwen3VLModel), the Hugging Face Qwen3-VL original, ComfyUI's text-only repack.
LAYOUT_PREFIXES = ("language_model.", "model.language_model.", "model.")
_EXPECTED = (
    "Expected the text_encoder/ folder of the Ideogram 4 repo (config.json + language_model.* tensors) "
    "or a Qwen3-VL-8B .safetensors or .gguf file."
)


@dataclass(frozen=True)
class TextEncoderConfig:
    """Sizes of the Qwen3-VL language tower."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 5_000_000.0
    attention_bias: bool = False
    mrope_section: tuple[int, int, int] = (24, 20, 20)

    @property
    def feature_dim(self) -> int:
        return self.hidden_size * len(TAP_LAYERS)

    @classmethod
    def from_hf(cls, config: Mapping, source: str) -> TextEncoderConfig:
        """From a transformers Qwen3VLConfig dict (`text_config`, rope in `rope_parameters` or `rope_theta`)."""
        text = config["text_config"]
        rope = text.get("rope_parameters") or text.get("rope_scaling") or {}
        if rope.get("rope_type", "default") not in ("default", "mrope") or text.get("hidden_act", "silu") != "silu":
            raise ModelFileError(
                f"{source} uses rope type {rope.get('rope_type')!r} / activation {text.get('hidden_act')!r}; "
                f"only Qwen3-VL's default RoPE with SiLU is supported. {_EXPECTED}"
            )
        try:
            heads = text["num_attention_heads"]
            return cls(
                vocab_size=text["vocab_size"],
                hidden_size=text["hidden_size"],
                intermediate_size=text["intermediate_size"],
                num_layers=text["num_hidden_layers"],
                num_heads=heads,
                num_kv_heads=text.get("num_key_value_heads") or heads,
                head_dim=text.get("head_dim") or text["hidden_size"] // heads,
                rms_norm_eps=text.get("rms_norm_eps", 1e-6),
                rope_theta=float(rope.get("rope_theta", text.get("rope_theta", 5_000_000.0))),
                attention_bias=text.get("attention_bias", False),
                mrope_section=tuple(rope.get("mrope_section", (24, 20, 20))),
            )
        except KeyError as exc:
            raise ModelFileError(f"{source}/config.json lacks text_config field {exc}. {_EXPECTED}") from None

    @classmethod
    def from_shapes(cls, shapes: Mapping[str, tuple[int, ...]]) -> TextEncoderConfig:
        """Infer sizes from tower-relative tensor shapes; eps and rope theta are Qwen3-VL's fixed values."""
        try:
            vocab, hidden = shapes["embed_tokens.weight"]
            head_dim = shapes["layers.0.self_attn.q_norm.weight"][0]
            return cls(
                vocab_size=vocab,
                hidden_size=hidden,
                intermediate_size=shapes["layers.0.mlp.gate_proj.weight"][0],
                num_layers=1 + max(int(name.split(".")[1]) for name in shapes if name.startswith("layers.")),
                num_heads=shapes["layers.0.self_attn.q_proj.weight"][0] // head_dim,
                num_kv_heads=shapes["layers.0.self_attn.k_proj.weight"][0] // head_dim,
                head_dim=head_dim,
                attention_bias="layers.0.self_attn.q_proj.bias" in shapes,
            )
        except KeyError as exc:
            raise ModelFileError(f"The text encoder file lacks tensor {exc}; it is incomplete. {_EXPECTED}") from None


class RMSNorm(nn.Module):
    """RMS norm computed in float32, scaled by a plain weight in the input dtype."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rope_cos_sin(length: int, head_dim: int, theta: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (length, head_dim) in float32 for positions 0..length-1, halves duplicated (rotate-half)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float32, device=device), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half rotary embedding of x (..., dim) by cos/sin broadcast to it."""
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-second, first), dim=-1) * sin


class Attention(nn.Module):
    """Causal grouped-query attention with per-head q/k RMS norms and RoPE."""

    def __init__(self, cfg: TextEncoderConfig) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        bias = cfg.attention_bias
        self.q_proj = nn.Linear(cfg.hidden_size, cfg.num_heads * cfg.head_dim, bias=bias)
        self.k_proj = nn.Linear(cfg.hidden_size, cfg.num_kv_heads * cfg.head_dim, bias=bias)
        self.v_proj = nn.Linear(cfg.hidden_size, cfg.num_kv_heads * cfg.head_dim, bias=bias)
        self.o_proj = nn.Linear(cfg.num_heads * cfg.head_dim, cfg.hidden_size, bias=bias)
        self.q_norm = RMSNorm(cfg.head_dim, cfg.rms_norm_eps)
        self.k_norm = RMSNorm(cfg.head_dim, cfg.rms_norm_eps)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: LayerCache | None = None
    ) -> torch.Tensor:
        """x (L, hidden) at the positions of cos/sin; with `cache`, attends to the cached positions too."""
        length = x.shape[0]
        q = self.q_norm(self.q_proj(x).view(length, self.heads, self.head_dim)).transpose(0, 1)
        k = self.k_norm(self.k_proj(x).view(length, self.kv_heads, self.head_dim)).transpose(0, 1)
        v = self.v_proj(x).view(length, self.kv_heads, self.head_dim).transpose(0, 1)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            return self.o_proj(_cached_attention(q, k, v, cache).transpose(0, 1).reshape(length, -1))
        groups = self.heads // self.kv_heads
        k, v = k.repeat_interleave(groups, dim=0), v.repeat_interleave(groups, dim=0)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(0, 1).reshape(length, -1))


def _cached_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cache: LayerCache) -> torch.Tensor:
    """Causal attention of the new positions over the cached ones plus themselves. Grouped-query without
    copying keys: the query heads sharing a KV head are folded into its rows (and the causal mask with them)."""
    past = cache.length
    keys, values = cache.append(k, v)
    heads, length, head_dim = q.shape
    kv_heads = keys.shape[0]
    groups = heads // kv_heads
    folded = q.reshape(kv_heads, groups * length, head_dim)
    mask = None
    if length > 1:
        mask = torch.ones(length, past + length, dtype=torch.bool, device=q.device).tril(diagonal=past)
        mask = mask.repeat(groups, 1)
    if q.device.type != "cpu":
        out = F.scaled_dot_product_attention(folded, keys, values, attn_mask=mask)
    else:  # CPU SDPA costs ~10 ms a call at decode sizes; the explicit form is the same sum, far cheaper
        scores = (folded @ keys.transpose(1, 2)) * head_dim**-0.5
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        out = torch.softmax(scores.float(), dim=-1).to(values.dtype) @ values
    return out.reshape(heads, length, head_dim)


class MLP(nn.Module):
    """SwiGLU feed-forward: down(silu(gate x) * up x)."""

    def __init__(self, cfg: TextEncoderConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Pre-norm transformer block: x + attn(norm x), then x + mlp(norm x)."""

    def __init__(self, cfg: TextEncoderConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: LayerCache | None = None
    ) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Qwen3TapEncoder(nn.Module):
    """Embedding + decoder layers 0..max(TAP_LAYERS); returns the tapped layer outputs stacked per token.

    `norm` (the tower's final RMS norm, None when the file lacks it) is not used here; the causal LM of the
    magic prompt (`causal_lm`) runs the same layers through it.
    """

    def __init__(self, cfg: TextEncoderConfig, final_norm: bool = False) -> None:
        super().__init__()
        self.config = cfg
        self.embed_tokens = zero_embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(max(TAP_LAYERS) + 1))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps) if final_norm else None

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """token_ids (L,) → float32 features (L, hidden·13), feature index = hidden_index·13 + tap_index."""
        x = self.embed_tokens(token_ids)
        cos, sin = rope_cos_sin(len(token_ids), self.config.head_dim, self.config.rope_theta, x.device)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        taps = []
        for index, layer in enumerate(self.layers):
            x = layer(x, cos, sin)
            if index in TAP_LAYERS:
                taps.append(x)
        return torch.stack(taps, dim=-1).flatten(1).float()


def load_text_encoder(
    path: str | Path, *, device: torch.device | str, dtype: torch.dtype, fp8_matmul: bool = False
) -> Qwen3TapEncoder:
    """Load the language tower from a text_encoder/ folder (single or sharded) or a single .safetensors file.

    Reads only the embedding, layers 0..max(TAP_LAYERS) and the final norm; the rest of the file is never read.
    Quantised Linears (any registered format, see `quant`) stay quantised; `dtype` is the compute dtype. `fp8_matmul`
    runs fp8 layers as real fp8 matmuls where the GPU supports them; off by default, unlike the transformer's:
    the encoder runs once per image (≈ 0.2 % of a 20-step image's matmul work at the released size) and its
    features feed every step, so the exact dequantised path costs next to nothing (README, "Speed").
    """
    path = text_encoder_path(path)
    config = read_qwen_config(path)
    headers = [read_weight_header(file) for file in (weight_files(path) if path.is_dir() else [path])]
    located = {name: (header.path, info) for header in headers for name, info in header.tensors.items()}
    prefix = _layout_prefix(path, located)
    tower = {name[len(prefix) :]: located[name] for name in located if name.startswith(prefix)}
    fmt = detect_format(headers, config)
    if config:
        cfg = TextEncoderConfig.from_hf(config, str(path))
    else:
        cfg = TextEncoderConfig.from_shapes({name: info.shape for name, (_, info) in tower.items()})
    if cfg.num_layers <= max(TAP_LAYERS):
        raise ModelFileError(
            f"{path} has {cfg.num_layers} decoder layers, but Ideogram 4 taps layer {max(TAP_LAYERS)}, so at least "
            f"{max(TAP_LAYERS) + 1} are needed. {_EXPECTED}"
        )
    wanted = {prefix + name: file for name, (file, _) in tower.items() if _is_needed(name)}
    if isinstance(headers[0], GgufHeader):
        cfg = _gguf_settings(cfg, headers[0])
        stored = load_gguf_tensors(path, lambda name: name in wanted)
    else:
        stored = read_tensors(wanted, device) | metadata_markers(headers)
    state = {name[len(prefix) :]: t for name, t in stored.items() if name.startswith(prefix)}
    state = {name: tensor for name, tensor in state.items() if _is_needed(name)}
    final_norm = cfg.num_layers == max(TAP_LAYERS) + 1 and "norm.weight" in state  # it follows the last layer
    if not final_norm:
        state.pop("norm.weight", None)
    if isinstance(headers[0], GgufHeader):
        linears = take_gguf_modules(state, module_types(lambda: Qwen3TapEncoder(cfg, final_norm)), dtype)
    else:
        linears = fmt.take_linears(state, dtype)
    model = materialize(
        lambda: Qwen3TapEncoder(cfg, final_norm), state, dtype=dtype, what=f"Qwen3-VL text encoder ({path.name})",
        replacements=linears,
    )  # fmt: skip
    use_fp8_matmul(model, fp8_matmul)
    return model.to(device)  # GGUF tensors are memory-mapped on the CPU; the others are read onto `device`


def text_encoder_path(path: str | Path) -> Path:
    """The text encoder file or folder `path` names (a repo root means its `text_encoder/`); ModelFileError if
    it is another kind of model file."""
    path = Path(path)
    expect(path, "text_encoder")
    if path.is_dir() and not (path / "config.json").is_file() and (path / "text_encoder").is_dir():
        return path / "text_encoder"
    return path


def _gguf_settings(cfg: TextEncoderConfig, header: GgufHeader) -> TextEncoderConfig:
    """Rotary theta and norm epsilon from a GGUF's metadata (llama.cpp's `{arch}.rope.freq_base`,
    `{arch}.attention.layer_norm_rms_epsilon`), where it records them."""
    arch, metadata = header.architecture or "qwen3vl", header.metadata
    theta = metadata.get(f"{arch}.rope.freq_base")
    eps = metadata.get(f"{arch}.attention.layer_norm_rms_epsilon")
    return dataclasses.replace(
        cfg,
        rope_theta=float(theta) if theta else cfg.rope_theta,
        rms_norm_eps=float(eps) if eps else cfg.rms_norm_eps,
    )


def _is_needed(name: str) -> bool:
    if name.startswith("layers."):
        return int(name.split(".")[1]) <= max(TAP_LAYERS)
    return name in ("embed_tokens.weight", "norm.weight")


def read_qwen_config(path: Path) -> dict:
    """The transformers config of a folder ({} for a single file); ModelFileError if it is not Qwen3-VL."""
    if not path.is_dir():
        return {}
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelFileError(f"{path} has no config.json. {_EXPECTED}")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("model_type") != "qwen3_vl" or "text_config" not in config:
        raise ModelFileError(f"{path} looks like {_describe_config(config)}, not a Qwen3-VL text encoder. {_EXPECTED}")
    return config


def _describe_config(config: Mapping) -> str:
    if "_class_name" in config:
        return f"a diffusers {config['_class_name']} folder"
    if "model_type" not in config:
        return "an unrecognised model"
    architectures = ", ".join(config.get("architectures") or [])
    return f"a {config['model_type']} model" + (f" ({architectures})" if architectures else "")


def _layout_prefix(path: Path, names: Mapping[str, object]) -> str:
    for prefix in LAYOUT_PREFIXES:
        if f"{prefix}embed_tokens.weight" in names and f"{prefix}layers.0.self_attn.q_norm.weight" in names:
            return prefix
    if names and all(name.startswith(("visual.", "model.visual.")) for name in names):
        found = "only a vision tower"
    else:
        found = f"tensors named like {next(iter(names), 'nothing')!r}"
    raise ModelFileError(f"{path} holds {found}, not a Qwen3-VL language tower. {_EXPECTED}")


def read_tensors(wanted: Mapping[str, Path], device: torch.device | str) -> dict[str, torch.Tensor]:
    """Read the named tensors straight onto `device`, opening each file once."""
    by_file: dict[Path, list[str]] = {}
    for name, file in wanted.items():
        by_file.setdefault(file, []).append(name)
    state: dict[str, torch.Tensor] = {}
    for file, names in by_file.items():
        with safe_open(str(file), framework="pt", device=str(device)) as f:
            state.update({name: f.get_tensor(name) for name in names})
    return state


def find_tokenizer_folder(text_encoder_path: str | Path) -> Path:
    """The tokenizer next to a text encoder (`../tokenizer/` in the official layout, the same folder in the HF
    original), else the bundled Qwen tokenizer (for single files such as ComfyUI's, which carry none)."""
    path = Path(text_encoder_path)
    folder = path if path.is_dir() else path.parent
    for candidate in (folder / "tokenizer", folder.parent / "tokenizer", folder):
        if (candidate / "tokenizer.json").is_file() or (candidate / "vocab.json").is_file():
            return candidate
    return bundled_tokenizer_dir()


def load_tokenizer(text_encoder: str | Path, tokenizer: str | Path | None = None) -> CaptionTokenizer:
    """`tokenizer` when given; for a GGUF text encoder the vocabulary it stores (else the bundled Qwen files);
    otherwise the tokenizer folder next to the text encoder."""
    if tokenizer is not None:
        return CaptionTokenizer.from_folder(tokenizer)
    path = Path(text_encoder)
    if not is_gguf(path):
        return CaptionTokenizer.from_folder(find_tokenizer_folder(path))
    vocabulary = read_vocabulary(path)
    if vocabulary is None:
        return CaptionTokenizer.from_folder(bundled_tokenizer_dir())
    if vocabulary.model != "gpt2" or vocabulary.pre not in ("qwen2", ""):
        raise ModelFileError(
            f"{path.name} stores a {vocabulary.model!r} tokenizer with pre-tokenizer {vocabulary.pre!r}, not Qwen2's "
            "byte-level BPE: it is not a Qwen3-VL text encoder. Use the Qwen3-VL-8B GGUF, or pass the tokenizer/ "
            "folder of the Ideogram 4 repo."
        )
    normal, added = [], {}
    for index, (token, kind) in enumerate(zip(vocabulary.tokens, vocabulary.token_types, strict=True)):
        if kind == _GGUF_NORMAL_TOKEN:
            normal.append(token)
        elif kind in _GGUF_ADDED_TOKENS:
            added[index] = token
    return CaptionTokenizer.from_vocabulary(normal, vocabulary.merges, added, f"the vocabulary in {path.name}")


_GGUF_NORMAL_TOKEN, _GGUF_ADDED_TOKENS = 1, (3, 4)
"""llama.cpp token types: normal; control and user-defined (the added tokens). Unused padding (5) is dropped."""


class TextEncoder:
    """Captions in, per-token text features out: tokenizer + tap encoder, one caption at a time (no padding)."""

    def __init__(self, model: Qwen3TapEncoder, tokenizer: CaptionTokenizer) -> None:
        if tokenizer.vocab_size > model.config.vocab_size:
            raise ModelFileError(
                f"The tokenizer has {tokenizer.vocab_size} tokens but the text encoder only {model.config.vocab_size} "
                "embeddings; they belong to different models. Use the tokenizer that ships with the text encoder."
            )
        self.model = model
        self.tokenizer = tokenizer

    @classmethod
    def load(
        cls,
        text_encoder: str | Path,
        tokenizer: str | Path | None = None,
        *,
        device: torch.device | str,
        dtype: torch.dtype,
    ) -> TextEncoder:
        """Load both parts; without `tokenizer`, the text encoder's own (see `load_tokenizer`)."""
        caption_tokenizer = load_tokenizer(text_encoder, tokenizer)
        return cls(load_text_encoder(text_encoder, device=device, dtype=dtype), caption_tokenizer)

    @property
    def feature_dim(self) -> int:
        return self.model.config.feature_dim

    @property
    def device(self) -> torch.device:
        return self.model.embed_tokens.weight.device

    def count_tokens(self, caption: str) -> int:
        """Tokens the encoder sees for this caption, template included."""
        return self.tokenizer.count_tokens(caption)

    def encode(self, captions: Sequence[str]) -> list[torch.Tensor]:
        """Float32 features (L_i, feature_dim) per caption; all captions are checked before any is encoded."""
        token_ids = [self.tokenizer.token_ids(caption) for caption in captions]
        with torch.inference_mode():
            return [self.model(torch.tensor(ids, device=self.device)) for ids in token_ids]
