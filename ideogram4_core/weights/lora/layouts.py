"""LoRA key layouts: which trainer wrote a file, and which layer of our model each adapter belongs to.

Every layout names an adapter by a module path and a role suffix. The module path is normalised to the
diffusers-or-original dotted name (`layers.3.attention.to_q`, `layers.3.attention.qkv`, `final_layer.linear`)
and then mapped onto our fused model: split q/k/v adapt row thirds of `attention.qkv` (SPEC §2.1), `to_out.0`
is `attention.o`. Layouts seen in the wild:

- diffusers/PEFT: `transformer.<path>.lora_A.weight` / `.lora_B.weight`, split q/k/v, alpha in the
  `lora_adapter_metadata` header entry (else scale 1);
- ai-toolkit: `diffusion_model.<path>.lora_A.weight` / `.lora_B.weight` with fused `attention.qkv` / `attention.o`;
- kohya / ComfyUI: `lora_unet_<path with underscores>` or `diffusion_model.<path>`, `.lora_down.weight` /
  `.lora_up.weight` and a scalar `.alpha` (scale = alpha / rank);
- OneTrainer: kohya-style names under `lora_transformer_` with split q/k/v.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..identify_rules import UNKNOWN

LAYOUTS = {
    "diffusers": "diffusers/PEFT (split to_q/to_k/to_v, lora_A/lora_B)",
    "ai-toolkit": "ai-toolkit (diffusion_model. prefix, fused qkv, lora_A/lora_B)",
    "kohya": "kohya/ComfyUI (lora_down/lora_up with alpha)",
    "onetrainer": "OneTrainer (kohya-style names, split q/k/v, lora_down/lora_up with alpha)",
}

DOWN, UP, ALPHA = "down", "up", "alpha"
_ROLES = {
    ".lora_A.weight": DOWN, ".lora_B.weight": UP, ".lora_down.weight": DOWN, ".lora_up.weight": UP,
    ".lora_A.default.weight": DOWN, ".lora_B.default.weight": UP, ".alpha": ALPHA,
}  # fmt: skip
_UNSUPPORTED = {
    "DoRA": (".dora_scale", ".lora_magnitude_vector"),
    "LyCORIS LoKr": (".lokr_w1", ".lokr_w2", ".lokr_w1_a", ".lokr_w1_b", ".lokr_w2_a", ".lokr_w2_b", ".lokr_t2"),
    "LyCORIS LoHa": (".hada_w1_a", ".hada_w1_b", ".hada_w2_a", ".hada_w2_b", ".hada_t1", ".hada_t2"),
    "LyCORIS full-weight diff": (".diff", ".diff_b"),
    "a LoRA with bias or mid weights": (".lora_B.bias", ".lora_up.bias", ".lora_mid.weight"),
}
_PREFIXES = ("base_model.model.", "model.diffusion_model.", "diffusion_model.", "transformer.",
             "conditional_transformer.")  # fmt: skip
_KOHYA_PREFIXES = ("lora_unet_", "lora_transformer_", "lycoris_")

TOP_MODULES = ("input_proj", "llm_cond_proj", "t_embedding.mlp_in", "t_embedding.mlp_out", "adaln_proj",
               "final_layer.linear", "final_layer.adaln_modulation")  # fmt: skip
BLOCK_MODULES = ("attention.qkv", "attention.o", "feed_forward.w1", "feed_forward.w2", "feed_forward.w3",
                 "adaln_modulation")  # fmt: skip
"""The Linear layers of our model (original names); `BLOCK_MODULES` repeat under `layers.{i}.`."""
SPLIT_QKV = ("attention.to_q", "attention.to_k", "attention.to_v")
_ALIASES = {**{name: ("attention.qkv", third) for third, name in enumerate(SPLIT_QKV)},
            "attention.to_out.0": ("attention.o", None)}  # fmt: skip
"""Diffusers block names → (our module, row third of it or None for the whole layer)."""

_BLOCK_NAMES = (*BLOCK_MODULES, *_ALIASES)
_DOTTED = re.compile(r"^(?:(?P<top>" + "|".join(map(re.escape, TOP_MODULES)) + r")|layers\.(?P<i>\d+)\.(?P<block>"
                     + "|".join(map(re.escape, _BLOCK_NAMES)) + r"))$")  # fmt: skip
_UNDERSCORED = {name.replace(".", "_"): name for name in (*TOP_MODULES, *_BLOCK_NAMES)}
_KOHYA_BLOCK = re.compile(r"^layers_(\d+)_(.+)$")

_FAMILIES = (
    (re.compile(r"double_blocks|single_blocks|single_transformer_blocks|context_embedder"), "a FLUX.1 LoRA"),
    (re.compile(r"double_stream_modulation|single_stream_modulation"), "a FLUX.2 LoRA"),
    (re.compile(r"img_mod|txt_mod|img_mlp|txt_mlp|transformer_blocks[._]\d+[._]attn[._]add_"), "a Qwen-Image LoRA"),
    (re.compile(r"input_blocks|output_blocks|down_blocks|up_blocks|mid_block|middle_block"),
     "a Stable Diffusion / SDXL LoRA"),
    (re.compile(r"noise_refiner|context_refiner|cap_embedder"), "a Z-Image / Lumina 2 LoRA"),
    (re.compile(r"joint_blocks"), "a Stable Diffusion 3 LoRA"),
    (re.compile(r"^(lora_te\d?_|text_encoder|te\d?\.)|self_attn[._](q|k|v)_proj|mlp[._](gate|up|down)_proj"),
     "a text-encoder LoRA"),
)  # fmt: skip


@dataclass(frozen=True)
class AdapterKey:
    """One tensor of a LoRA file: the module path as written in the file, our module, and its role."""

    module: str  # normalised dotted name, e.g. "layers.0.attention.to_q"
    target: str  # our layer, e.g. "layers.0.attention.qkv"
    third: int | None  # 0/1/2: the q/k/v row third of `target` this adapter changes; None: all rows
    role: str  # DOWN, UP or ALPHA


def split_role(name: str) -> tuple[str, str] | None:
    """(module key, role) for a LoRA tensor name, or None when the suffix is no LoRA role."""
    for suffix, role in _ROLES.items():
        if name.endswith(suffix):
            return name[: -len(suffix)], role
    return None


def unsupported_kind(names: list[str]) -> str | None:
    """The adapter kind this file uses that plain low-rank application cannot represent (DoRA, LoKr, …)."""
    for kind, suffixes in _UNSUPPORTED.items():
        if any(name.endswith(suffixes) for name in names):
            return kind
    return None


def normalise_module(key: str) -> str | None:
    """A file's module key → the dotted module name of our (or diffusers') Ideogram 4; None when it is none."""
    for prefix in _KOHYA_PREFIXES:
        if key.startswith(prefix):
            return _from_underscores(key[len(prefix) :])
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key if _DOTTED.match(key) else None


def _from_underscores(name: str) -> str | None:
    block = _KOHYA_BLOCK.match(name)
    if block:
        inner = _UNDERSCORED.get(block[2])
        return f"layers.{block[1]}.{inner}" if inner in _BLOCK_NAMES else None
    top = _UNDERSCORED.get(name)
    return top if top in TOP_MODULES else None


def adapter_key(name: str) -> AdapterKey | None:
    """Where tensor `name` goes in our model; None when the name is no Ideogram 4 LoRA tensor."""
    split = split_role(name)
    if split is None:
        return None
    module = normalise_module(split[0])
    if module is None:
        return None
    match = _DOTTED.match(module)
    if match["top"]:
        return AdapterKey(module, module, None, split[1])
    target, third = _ALIASES.get(match["block"], (match["block"], None))
    return AdapterKey(module, f"layers.{match['i']}.{target}", third, split[1])


def layout_of(names: list[str]) -> str:
    """The LAYOUTS id of a file whose tensor names all map onto Ideogram 4."""
    split = any(f".{name}" in n or f"_{name.replace('.', '_')}" in n for n in names for name in (*SPLIT_QKV,))
    if any(n.endswith((".lora_down.weight", ".lora_up.weight")) for n in names):
        return "onetrainer" if split and any(n.startswith("lora_transformer_") for n in names) else "kohya"
    if split or any(n.startswith("transformer.") for n in names):
        return "diffusers"
    return "ai-toolkit"


def foreign_family(names: list[str]) -> str:
    """What model family tensor names that do not fit Ideogram 4 belong to (or UNKNOWN)."""
    for pattern, family in _FAMILIES:
        if any(pattern.search(name) for name in names):
            return family
    return UNKNOWN
