"""Loading transformer weights: original or diffusers names, folders with config or bare single files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from ..errors import ModelFileError
from ..models.modules import materialize, module_types
from ..models.transformer import Ideogram4Transformer, TransformerConfig
from .gguf_io import GgufHeader, load_gguf_tensors
from .identify import expect, read_weight_header
from .quant import ConcatLinear, detect_format
from .quant.comfy import metadata_markers
from .quant.fp8 import use_fp8_matmul
from .quant.gguf import take_gguf_modules
from .safetensors_io import SafetensorsHeader, load_tensors, weight_files

DETECTION_KEY = "embed_image_indicator.weight"
_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.")
_SPLIT_QKV_MODULES = (".attention.to_q", ".attention.to_k", ".attention.to_v")
_SPLIT_QKV = tuple(f"{m}.weight" for m in _SPLIT_QKV_MODULES)

Branch = Literal["cond", "uncond"]
BRANCH_ROLES = {"cond": "conditional_transformer", "uncond": "unconditional_transformer"}
"""`expect` roles that check a transformer is the branch it is loaded as."""


def strip_prefix(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def to_original_names(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map diffusers attention names (split q/k/v, `to_out.0`) onto the fused original layout."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        name = strip_prefix(name)
        if name.endswith(_SPLIT_QKV):
            continue
        out[name.replace(".attention.to_out.0.", ".attention.o.")] = tensor
    for name in tensors:
        short = strip_prefix(name)
        if short.endswith(_SPLIT_QKV[0]):
            stem = short[: -len(_SPLIT_QKV[0])]
            parts = [tensors[name[: -len(short)] + stem + suffix] for suffix in _SPLIT_QKV]
            out[f"{stem}.attention.qkv.weight"] = torch.cat(parts, dim=0)
    return out


def infer_config(shapes: dict[str, tuple[int, ...]]) -> TransformerConfig:
    """Model sizes from tensor shapes (SPEC §8); rotary settings and epsilons are the fixed released values."""
    hidden, in_channels = shapes["input_proj.weight"]
    head_dim = shapes["layers.0.attention.norm_q.weight"][0]
    layers = 1 + max(int(k.split(".")[1]) for k in shapes if k.startswith("layers."))
    return TransformerConfig(
        in_channels=in_channels,
        num_layers=layers,
        attention_head_dim=head_dim,
        num_attention_heads=hidden // head_dim,
        intermediate_size=shapes["layers.0.feed_forward.w1.weight"][0],
        adaln_dim=shapes["adaln_proj.weight"][0],
        llm_features_dim=shapes["llm_cond_norm.weight"][0],
    )


def _original_shapes(header: SafetensorsHeader) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for name, info in header.tensors.items():
        short = strip_prefix(name)
        if short.endswith(_SPLIT_QKV):
            stem = short.rsplit(".attention.", 1)[0]
            rows, cols = info.shape
            shapes[f"{stem}.attention.qkv.weight"] = (3 * rows, cols)
        else:
            shapes[short.replace(".attention.to_out.0.", ".attention.o.")] = info.shape
    return shapes


def _locate(path: Path) -> tuple[list[Path], dict | None]:
    """Weight files and the diffusers config (if any) of a folder or single file."""
    if path.is_dir():
        config_file = path / "config.json"
        return weight_files(path), json.loads(config_file.read_text()) if config_file.is_file() else None
    if path.is_file():
        return [path], None
    raise ModelFileError(
        f"Transformer not found: {path}. Point to the `transformer/` folder or a .safetensors or .gguf file."
    )


def read_transformer_config(path: str | Path) -> TransformerConfig:
    """The model's sizes from its config or its tensor shapes; reads headers only, never tensor data."""
    path = Path(path)
    expect(path, "transformer")
    files, config = _locate(path)
    shapes = {k: v for f in files for k, v in _original_shapes(read_weight_header(f)).items()}
    if DETECTION_KEY not in shapes:
        raise ModelFileError(
            f"{path} is not an Ideogram 4 transformer (no `{DETECTION_KEY}`). "
            "Use the `transformer/` folder of the Ideogram 4 download or an ideogram4 .safetensors file."
        )
    return TransformerConfig.from_dict(config) if config else infer_config(shapes)


def to_original_module_paths(linears: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """Quantised replacements under diffusers paths → original paths (split q/k/v become one ConcatLinear)."""
    out: dict[str, nn.Module] = {}
    for path, module in linears.items():
        if path.endswith(_SPLIT_QKV_MODULES):
            continue
        out[path.replace(".attention.to_out.0", ".attention.o")] = module
    for path in linears:
        if path.endswith(_SPLIT_QKV_MODULES[0]):
            stem = path[: -len(_SPLIT_QKV_MODULES[0])]
            parts = [linears.get(stem + suffix) for suffix in _SPLIT_QKV_MODULES]
            if any(part is None for part in parts):
                raise ModelFileError(f"{stem}: q, k and v are not quantised alike; the file is inconsistent.")
            out[f"{stem}.attention.qkv"] = ConcatLinear(parts)
    return out


def load_transformer(
    path: str | Path,
    *,
    device: torch.device | str,
    dtype: torch.dtype,
    branch: Branch | None = None,
    fp8_matmul: bool = True,
) -> Ideogram4Transformer:
    """Load one branch from a diffusers folder (`config.json` + safetensors) or a single .safetensors file.

    Quantised Linears stay quantised (see `quant`); `dtype` is the compute dtype and the dtype of plain tensors.
    `branch` ("cond"/"uncond") refuses the other branch when the file records which one it is. `fp8_matmul`
    (default) runs fp8 layers as real fp8 matmuls where the GPU supports them; elsewhere, and with False
    everywhere, they are dequantised per call (exact).
    """
    if branch is not None:
        expect(path, BRANCH_ROLES[branch])
    cfg = read_transformer_config(path)
    files, config = _locate(Path(path))
    headers = [read_weight_header(f) for f in files]
    if isinstance(headers[0], GgufHeader):
        tensors, linears = _gguf_state(files[0], cfg, dtype)
    else:
        fmt = detect_format(headers, config)
        loaded = load_tensors(files) | metadata_markers(headers)
        tensors = {strip_prefix(name): tensor for name, tensor in loaded.items()}
        linears = to_original_module_paths(fmt.take_linears(tensors, dtype))
    model = materialize(
        lambda: Ideogram4Transformer(cfg),
        to_original_names(tensors),
        dtype=dtype,
        what=f"Ideogram 4 transformer ({Path(path).name})",
        replacements=linears,
    )
    use_fp8_matmul(model, fp8_matmul)
    return model.to(device)


def _gguf_state(file: Path, cfg: TransformerConfig, dtype: torch.dtype) -> tuple[dict, dict[str, nn.Module]]:
    """A GGUF's plain tensors and its quantised layers (kept in their blocks), in original names."""
    tensors = {strip_prefix(name): tensor for name, tensor in load_gguf_tensors(file).items()}
    kinds = module_types(lambda: Ideogram4Transformer(cfg))
    for path in [p for p in kinds if p.endswith(".attention.qkv")]:  # diffusers names of the same layers
        stem = path.removesuffix(".qkv")
        kinds |= {f"{stem}.to_q": nn.Linear, f"{stem}.to_k": nn.Linear, f"{stem}.to_v": nn.Linear,
                  f"{stem}.to_out.0": nn.Linear}  # fmt: skip
    return tensors, to_original_module_paths(take_gguf_modules(tensors, kinds, dtype))
