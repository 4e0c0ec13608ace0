"""Quantised copies of the tiny official model in the formats of SPEC §2.2 and §3.

Every writer stores a model's tensors in a format and copies the exact dequantised values (and the bf16-rounded
plain tensors) back into the model it was given, so that diffusers/transformers module becomes the oracle for
the file. ComfyUI layouts come from comfy-kitchen, ComfyUI's own quantiser (`QuantizedTensor.from_float`, its
`state_dict` names and `dequantize`); the markers are written as ComfyUI's `comfy/ops.py` and
`comfy/utils.py::convert_old_quants` read them. The official per-row fp8 layout has no public quantiser: it is
written here as SPEC §2.2 describes it. NF4 comes from bitsandbytes (fixtures_nf4).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import torch
from diffusers import Ideogram4Transformer2DModel
from fixtures_model import TINY_DIT, randomized, write_official_model
from safetensors.torch import save_file
from torch import nn

Stored = tuple[dict[str, torch.Tensor], torch.Tensor]
"""A quantised layer: its tensors by suffix ("weight", "weight_scale", …) and the exact fp32 weight they hold."""
Quantiser = Callable[[str, torch.Tensor], Stored]

SINGLE_FILE_DIT = {k: v for k, v in TINY_DIT.items() if k != "mrope_section"} | dict(
    attention_head_dim=256, num_attention_heads=1
)
"""Tiny DiT for single files, which carry no config: released head_dim and rotary sections (SPEC §8)."""
BLOCK_LINEARS = (".attention.qkv", ".attention.o", ".feed_forward.w1", ".feed_forward.w2", ".feed_forward.w3")
_CK_LAYOUTS = {
    "float8_e4m3fn": ("TensorCoreFP8Layout", {}),
    "nvfp4": ("TensorCoreNVFP4Layout", {}),
    "int8_tensorwise": ("TensorWiseINT8Layout", {}),
    "int8_rowwise": ("TensorWiseINT8Layout", {"per_channel": True}),
    "int8_convrot": ("TensorWiseINT8Layout", {"per_channel": True, "convrot": True, "convrot_groupsize": 16}),
}
"""Fixture format → (comfy-kitchen layout, quantiser options). The int8 variants are all ComfyUI's
`int8_tensorwise` format (per-tensor scale, per-row scales, per-row with ConvRot groups of 16)."""
_MARKERS = {"int8_rowwise": {"format": "int8_tensorwise"},
            "int8_convrot": {"format": "int8_tensorwise", "convrot": True, "convrot_groupsize": 16}}  # fmt: skip


def official_fp8(layer: str, weight: torch.Tensor) -> Stored:
    """Per-row float8_e4m3fn with fp32 scales [out]: W = w · s[:, None]."""
    scale = weight.abs().amax(dim=1).clamp_min(1e-12) / torch.finfo(torch.float8_e4m3fn).max
    stored = (weight / scale[:, None]).to(torch.float8_e4m3fn)
    return {"weight": stored, "weight_scale": scale}, stored.float() * scale[:, None]


def comfy_kitchen(formats: Mapping[str, str]) -> Quantiser:
    """Quantise each layer with comfy-kitchen in the ComfyUI format `formats[layer]` names."""
    tensor_api = pytest.importorskip("comfy_kitchen.tensor")

    def quantise(layer: str, weight: torch.Tensor) -> Stored:
        layout, options = _CK_LAYOUTS[formats[layer]]
        quantised = tensor_api.QuantizedTensor.from_float(weight, layout, **options)
        return quantised.state_dict("weight"), quantised.dequantize().float()

    return quantise


def store(groups: Mapping[str, list[torch.Tensor]], linears: set[str], quantise: Quantiser) -> dict[str, torch.Tensor]:
    """Tensors to save: `groups` maps a stored name to the model tensors it is made of (stacked by rows).

    Weights of `linears` are quantised, everything else is stored in bf16; the model tensors receive exactly
    what the file holds.
    """
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, parts in groups.items():
            value = torch.cat([part.float() for part in parts])
            layer = name.removesuffix(".weight")
            if layer in linears and name.endswith(".weight"):
                stored, exact = quantise(layer, value)
                out.update({f"{layer}.{suffix}": tensor.contiguous() for suffix, tensor in stored.items()})
            else:
                out[name] = value.to(torch.bfloat16)
                exact = out[name].float()
            for part, chunk in zip(parts, exact.split([part.shape[0] for part in parts]), strict=True):
                part.copy_(chunk)
    return out


def _linears(model: nn.Module, rename: Callable[[str], str | None] = lambda name: name) -> set[str]:
    names = (rename(name) for name, module in model.named_modules() if isinstance(module, nn.Linear))
    return {name for name in names if name is not None}


def _original_name(name: str) -> str | None:
    """Original (fused) name of a diffusers transformer tensor or module; None for to_k/to_v (inside qkv)."""
    if ".attention.to_k" in name or ".attention.to_v" in name:
        return None
    return name.replace(".attention.to_q", ".attention.qkv").replace(".attention.to_out.0", ".attention.o")


def transformer_groups(model: nn.Module, fused: bool) -> tuple[dict[str, list[torch.Tensor]], set[str]]:
    """Stored name → model tensors, and the Linear layers, in original (fused q/k/v) or diffusers names."""
    state = model.state_dict()
    if not fused:
        return {name: [tensor] for name, tensor in state.items()}, _linears(model)
    groups = {}
    for name in state:
        stored = _original_name(name)
        if stored is not None:
            parts = (name, name.replace("to_q", "to_k"), name.replace("to_q", "to_v")) if "to_q" in name else (name,)
            groups[stored] = [state[part] for part in parts]
    return groups, _linears(model, _original_name)


def single_file_dits(oracle, seed: int) -> None:
    """Give an oracle pipeline (fixtures_model) fresh random transformers of the single-file size."""
    for offset, name in enumerate(("transformer", "unconditional_transformer")):
        setattr(oracle, name, randomized(Ideogram4Transformer2DModel(**SINGLE_FILE_DIT), seed + offset))


def write_official_fp8_transformer(folder: Path, model: nn.Module, *, fused: bool) -> Path:
    """A `transformer/`-style folder: diffusers config + per-row fp8 safetensors, fused or split attention."""
    groups, linears = transformer_groups(model, fused)
    tensors = store(groups, linears, official_fp8)
    model.save_config(folder)
    save_file(tensors, folder / "diffusion_pytorch_model.safetensors")
    return folder


def comfy_formats(linears: set[str], nvfp4: bool, block_format: str | None = None) -> dict[str, str]:
    """fp8_scaled: every Linear float8_e4m3fn; nvfp4_mixed: block linears nvfp4, the others fp8; `block_format`
    (a `_CK_LAYOUTS` key) puts the block linears in that format instead."""
    block = block_format or ("nvfp4" if nvfp4 else "float8_e4m3fn")
    return {layer: block if layer.endswith(BLOCK_LINEARS) else "float8_e4m3fn" for layer in linears}


def write_comfy_file(
    file: Path,
    groups: Mapping[str, list[torch.Tensor]],
    formats: Mapping[str, str],
    *,
    markers: str = "tensor",
    prefix: str = "",
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """A ComfyUI single file. `markers`: "tensor" (`X.comfy_quant` + `X.input_scale` on fp8 layers),
    "metadata" (`_quantization_metadata` header) or "legacy" (`scaled_fp8` + `X.scale_weight`/`X.scale_input`).
    """
    tensors = store(groups, set(formats), comfy_kitchen(formats))
    metadata = dict(metadata or {})
    confs = {layer: _MARKERS.get(fmt, {"format": fmt}) for layer, fmt in formats.items()}
    if markers == "tensor":
        for layer, conf in confs.items():
            tensors[f"{layer}.comfy_quant"] = torch.tensor(list(json.dumps(conf).encode()), dtype=torch.uint8)
            if conf["format"].startswith("float8"):
                tensors[f"{layer}.input_scale"] = torch.tensor(0.0125)
    elif markers == "metadata":
        layers = {f"{prefix}{layer}": conf for layer, conf in confs.items()}
        metadata["_quantization_metadata"] = json.dumps({"format_version": "1.0", "layers": layers})
    else:
        assert markers == "legacy" and set(formats.values()) == {"float8_e4m3fn"}
        for layer in formats:
            tensors[f"{layer}.scale_weight"] = tensors.pop(f"{layer}.weight_scale")
            tensors[f"{layer}.scale_input"] = torch.tensor(1.0)
        tensors["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    save_file({f"{prefix}{name}": tensor for name, tensor in tensors.items()}, file, metadata=metadata or None)
    return file


def write_comfy_transformer(
    file: Path, model: nn.Module, *, nvfp4: bool = False, block_format: str | None = None, **kwargs
) -> Path:
    """ComfyUI fp8_scaled (or nvfp4_mixed, or int8 block linears) DiT in original names; keyword arguments as
    `write_comfy_file`."""
    groups, linears = transformer_groups(model, fused=True)
    return write_comfy_file(file, groups, comfy_formats(linears, nvfp4, block_format), **kwargs)


def write_comfy_text_encoder(file: Path, model: nn.Module, fmt: str = "float8_e4m3fn", **kwargs) -> Path:
    """ComfyUI `qwen3vl_*_fp8_scaled.safetensors`: the language tower as `model.*`, Linears in `fmt` (a
    `_CK_LAYOUTS` key) with markers."""
    tower = model.language_model
    groups = {f"model.{name}": [tensor] for name, tensor in tower.state_dict().items()}
    formats = dict.fromkeys(_linears(tower, lambda name: f"model.{name}"), fmt)
    return write_comfy_file(file, groups, formats, **kwargs)


def write_quantised_text_encoder(
    folder: Path, model: nn.Module, quantise: Quantiser, config: Mapping, vision: bool = False
) -> Path:
    """An official `text_encoder/` folder (`language_model.*`, `visual.*`) with the language tower's Linears
    (and the vision tower's with `vision`) quantised by `quantise` and `config` merged into config.json."""
    groups = {name: [tensor] for name, tensor in model.state_dict().items()}
    linears = _linears(model.language_model, lambda name: f"language_model.{name}")
    if vision:
        linears |= _linears(model.visual, lambda name: f"visual.{name}")
    tensors = store(groups, linears, quantise)
    model.config.save_pretrained(folder)
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(json.loads(config_file.read_text()) | dict(config)))
    save_file(tensors, folder / "model.safetensors")
    return folder


def write_quantised_repo(folder: Path, write_transformer: Callable[..., object], quantise: Quantiser, config: Mapping):
    """The official repo layout (fixtures_model) with every model quantised: transformer/ in fused names,
    unconditional_transformer/ in split names (`write_transformer(folder, model, fused=…)`), text_encoder/ by
    `quantise` with `config` merged into its config.json. Returns the oracle pipeline."""
    oracle = write_official_model(folder)
    for name, fused in (("transformer", True), ("unconditional_transformer", False)):
        shutil.rmtree(folder / name)
        write_transformer(folder / name, getattr(oracle, name), fused=fused)
    shutil.rmtree(folder / "text_encoder")
    write_quantised_text_encoder(folder / "text_encoder", oracle.text_encoder, quantise, config)
    return oracle


def nf4(layer: str, weight: torch.Tensor) -> Stored:
    """bitsandbytes NF4 (blocksize 64, no nested statistics) as the official nf4 release stores it."""
    from fixtures_nf4 import dequantize, quantize

    stored = quantize(weight)
    return stored, dequantize(stored).float()


def nf4_config() -> dict:
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
    return {"quantization_config": config.to_dict()}
