"""ComfyUI's quantised checkpoints (fp8_scaled, nvfp4_mixed, int8; SPEC §2.2), read the way ComfyUI reads them.

Each quantised layer `X` has a sibling `X.comfy_quant`: a uint8 tensor holding JSON such as
`{"format": "float8_e4m3fn"}` (or `"float8_e5m2"`, `"nvfp4"`, `"int8_tensorwise"`). fp8 layers carry a scalar
fp32 `X.weight_scale` (and maybe `X.input_scale`); nvfp4 layers `X.weight_scale` (block scales) and
`X.weight_scale_2`; int8 layers `X.weight_scale` per tensor or per row (see `int8`). The same
markers may sit in the header metadata `_quantization_metadata` = `{"layers": {X: {...}}}` instead. Older
files have a top-level `scaled_fp8` tensor and per-layer `X.scale_weight` / `X.scale_input`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ...errors import ModelFileError
from ..safetensors_io import SafetensorsHeader
from .fp8 import take_fp8_linear
from .int8 import Int8Linear
from .nvfp4 import Nvfp4Linear

MARKER = ".comfy_quant"
METADATA_KEY = "_quantization_metadata"
LEGACY_MARKER = "scaled_fp8"
FP8_FORMATS = {"float8_e4m3fn": torch.float8_e4m3fn, "float8_e5m2": torch.float8_e5m2}
INT8_FORMAT = "int8_tensorwise"
SUPPORTED = (*FP8_FORMATS, "nvfp4", INT8_FORMAT)


def metadata_markers(headers: Sequence[SafetensorsHeader]) -> dict[str, torch.Tensor]:
    """`X.comfy_quant` tensors for the layers a header's `_quantization_metadata` lists (full tensor names)."""
    markers: dict[str, torch.Tensor] = {}
    for header in headers:
        if METADATA_KEY not in header.metadata:
            continue
        try:
            layers = json.loads(header.metadata[METADATA_KEY])["layers"]
            markers.update({f"{layer}{MARKER}": _encode(conf) for layer, conf in layers.items()})
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ModelFileError(f"{header.path.name} has unreadable `{METADATA_KEY}` metadata ({exc!r}).") from None
    return markers


def _encode(conf: Mapping) -> torch.Tensor:
    return torch.tensor(list(json.dumps(dict(conf)).encode()), dtype=torch.uint8)


def _decode(marker: torch.Tensor, name: str) -> dict:
    try:
        conf = json.loads(bytes(marker.cpu().numpy()))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"Tensor {name!r} is not valid ComfyUI quantisation JSON ({exc}).") from None
    if not isinstance(conf, dict):
        raise ModelFileError(f"Tensor {name!r} holds {conf!r}, not a ComfyUI quantisation config.")
    return conf


def _is_legacy_marker(name: str) -> bool:
    return name == LEGACY_MARKER or name.endswith(f".{LEGACY_MARKER}")


class ComfyFp8Scaled:
    """ComfyUI-marked files; each layer is read by the format its own marker names."""

    name = "comfy-fp8-scaled"

    def detect(self, headers: Sequence[SafetensorsHeader], config: Mapping | None) -> bool:
        names = (name for header in headers for name in header.tensors)
        return any(METADATA_KEY in h.metadata for h in headers) or any(
            name.endswith(MARKER) or _is_legacy_marker(name) for name in names
        )

    def take_linears(self, tensors: dict[str, torch.Tensor], compute_dtype: torch.dtype) -> dict[str, nn.Module]:
        for name in [n for n in tensors if _is_legacy_marker(n)]:
            del tensors[name]
        marked = {n.removesuffix(MARKER): _decode(tensors.pop(n), n) for n in list(tensors) if n.endswith(MARKER)}
        linears = {layer: _take_layer(tensors, layer, conf, compute_dtype) for layer, conf in marked.items()}
        for layer in [n.removesuffix(".scale_weight") for n in tensors if n.endswith(".scale_weight")]:
            linears[layer] = _take_legacy(tensors, layer, compute_dtype)
        return linears


class ComfyNvfp4Mixed(ComfyFp8Scaled):
    """ComfyUI nvfp4_mixed: nvfp4 block linears beside fp8 ones; recognised by any `.weight_scale_2`."""

    name = "comfy-nvfp4-mixed"

    def detect(self, headers: Sequence[SafetensorsHeader], config: Mapping | None) -> bool:
        return any(name.endswith(".weight_scale_2") for header in headers for name in header.tensors)


class ComfyInt8(ComfyFp8Scaled):
    """ComfyUI int8: marked layers with int8 weights (any other marked layers are read by their own format)."""

    name = "comfy-int8"

    def detect(self, headers: Sequence[SafetensorsHeader], config: Mapping | None) -> bool:
        int8 = any(n.endswith(".weight") and i.dtype == "I8" for header in headers for n, i in header.tensors.items())
        return int8 and super().detect(headers, config)


def _take_layer(tensors: dict[str, torch.Tensor], layer: str, conf: dict, compute_dtype: torch.dtype) -> nn.Module:
    fmt = conf.get("format")
    if fmt in FP8_FORMATS:
        return take_fp8_linear(tensors, layer, compute_dtype, fp8_dtype=FP8_FORMATS[fmt])
    if fmt == "nvfp4":
        return _take_nvfp4(tensors, layer, compute_dtype)
    if fmt == INT8_FORMAT:
        return _take_int8(tensors, layer, conf, compute_dtype)
    raise ModelFileError(
        f"Layer {layer!r} uses the ComfyUI quantisation format {fmt!r}, which is not supported (supported: "
        f"{', '.join(SUPPORTED)}). Use the fp8_scaled or nvfp4 file of this model, or its bf16 weights."
    )


def _take_legacy(tensors: dict[str, torch.Tensor], layer: str, compute_dtype: torch.dtype) -> nn.Module:
    """Old `scaled_fp8` layers; like ComfyUI, a stored input scale of exactly 1 means 'none'."""
    linear = take_fp8_linear(tensors, layer, compute_dtype, scale_suffix=".scale_weight", input_suffix=".scale_input")
    if linear.input_scale is not None and float(linear.input_scale) == 1.0:
        linear.input_scale = None
    return linear


def _take_nvfp4(tensors: dict[str, torch.Tensor], layer: str, compute_dtype: torch.dtype) -> Nvfp4Linear:
    try:
        packed = tensors.pop(f"{layer}.weight")
        block_scales = tensors.pop(f"{layer}.weight_scale")
        global_scale = tensors.pop(f"{layer}.weight_scale_2")
    except KeyError as exc:
        raise ModelFileError(f"nvfp4 layer {layer!r} lacks tensor {exc}; the file is incomplete.") from None
    tensors.pop(f"{layer}.input_scale", None)  # activation scale of the fp4 matmul; unused when dequantising
    bias = tensors.pop(f"{layer}.bias", None)
    try:
        return Nvfp4Linear(packed, block_scales, global_scale, None if bias is None else bias.to(compute_dtype))
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"nvfp4 layer {layer!r}: weight {packed.dtype} {tuple(packed.shape)} with block scales "
            f"{tuple(block_scales.shape)} is not a valid NVFP4 layout ({exc})."
        ) from None


def _take_int8(tensors: dict[str, torch.Tensor], layer: str, conf: dict, compute_dtype: torch.dtype) -> Int8Linear:
    """An int8_tensorwise layer; ConvRot settings sit in the marker or its `params`, as ComfyUI reads them."""
    try:
        weight = tensors.pop(f"{layer}.weight")
        scale = tensors.pop(f"{layer}.weight_scale")
    except KeyError as exc:
        raise ModelFileError(f"int8 layer {layer!r} lacks tensor {exc}; the file is incomplete.") from None
    params = conf.get("params") if isinstance(conf.get("params"), dict) else {}
    convrot = conf.get("convrot", params.get("convrot", False))
    group = int(conf.get("convrot_groupsize", params.get("convrot_groupsize", 256))) if convrot else None
    bias = tensors.pop(f"{layer}.bias", None)
    if weight.dtype != torch.int8 or weight.ndim != 2:
        raise ModelFileError(
            f"int8 layer {layer!r} stores a {weight.dtype} weight of shape {tuple(weight.shape)}; expected a 2-D int8 "
            "weight. The file is inconsistent."
        )
    try:
        return Int8Linear(weight, scale, None if bias is None else bias.to(compute_dtype), group)
    except ValueError as exc:
        raise ModelFileError(f"int8 layer {layer!r}: {exc}. The file is inconsistent.") from None
