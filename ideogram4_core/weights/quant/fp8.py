"""float8 weights with float32 scales: the official per-row format and ComfyUI's per-tensor fp8_scaled layers.

Official `ideogram-4-fp8` (SPEC §2.2): `X.weight` float8_e4m3fn [out, in], `X.weight_scale` fp32 [out],
`W = w · s[:, None]`; biases and norms stay bf16. ComfyUI stores the same layer with one scalar scale.
`Fp8Linear` keeps the 1-byte weight. With `fp8_matmul` (the transformer loader's default) it runs a real fp8
matmul (`torch._scaled_mm`, the activations quantised to e4m3 per call) where the GPU supports one (CUDA compute
capability ≥ 8.9, e4m3 weight, sizes divisible by 16); everywhere else, and always without `fp8_matmul`, it
dequantises the weight per call into the compute dtype, which is exact. CPUs never take the fp8 matmul.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ...errors import ModelFileError
from ..safetensors_io import SafetensorsHeader
from .linear import DequantLinear

FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)
E4M3_MAX = torch.finfo(torch.float8_e4m3fn).max  # 448
_SAFETENSORS_FP8 = ("F8_E4M3", "F8_E5M2")


class Fp8Linear(DequantLinear):
    """A Linear with a float8 weight and a float32 scale (one per tensor or one per output row)."""

    def __init__(
        self,
        weight: torch.Tensor,
        scale: torch.Tensor,
        bias: torch.Tensor | None,
        input_scale: torch.Tensor | None = None,
    ) -> None:
        super().__init__(*weight.shape, bias)
        self.register_buffer("weight", weight)
        self.register_buffer("weight_scale", scale.float().reshape(-1, 1))  # [1, 1] or [out, 1]
        self.register_buffer("input_scale", None if input_scale is None else input_scale.float().reshape(()))
        self.fp8_matmul = False

    def dequantized_weight(self, dtype: torch.dtype) -> torch.Tensor:
        return (self.weight.float() * self.weight_scale).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fp8_matmul and scaled_mm_supported(x, self.weight):
            return fp8_scaled_linear(x, self.weight, self.weight_scale, self.bias, self.input_scale)
        return super().forward(x)


def cuda_fp8_capable(device: torch.device) -> bool:
    """True on CUDA devices with compute capability ≥ 8.9 (Ada, Hopper, Blackwell).

    Read from the device properties, which `torch.compile` folds to a constant (so the check costs no graph break).
    """
    if device.type != "cuda":
        return False
    properties = torch.cuda.get_device_properties(device)
    return (properties.major, properties.minor) >= (8, 9)


def scaled_mm_weight(weight: torch.Tensor) -> bool:
    """Whether `torch._scaled_mm` takes this weight: e4m3, both sizes divisible by 16."""
    out_features, in_features = weight.shape
    return weight.dtype == torch.float8_e4m3fn and in_features % 16 == 0 and out_features % 16 == 0


def scaled_mm_supported(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether `torch._scaled_mm` can run this layer: capable GPU, float input, a weight it takes."""
    return (
        x.dtype in (torch.float32, torch.bfloat16, torch.float16)
        and scaled_mm_weight(weight)
        and cuda_fp8_capable(x.device)
    )


def fp8_scaled_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    weight_scale: torch.Tensor,
    bias: torch.Tensor | None,
    input_scale: torch.Tensor | None,
) -> torch.Tensor:
    """x·Wᵀ as a real fp8 matmul: x is quantised to e4m3 with its stored scale (else amax/448 of this call).

    The matmul accumulates in float32 with a unit weight scale; the weight scale (scalar or per output row) and
    the bias are applied to that float32 result, then it is cast back to x's dtype.
    """
    rows = x.reshape(-1, x.shape[-1])
    scale = input_scale if input_scale is not None else rows.abs().amax().float().clamp_min(1e-12) / E4M3_MAX
    quantised = (rows.float() / scale).clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn)
    one = torch.ones((), device=x.device, dtype=torch.float32)
    out = torch._scaled_mm(quantised, weight.t(), scale_a=scale.reshape(()), scale_b=one, out_dtype=torch.float32)
    out = out * weight_scale.reshape(1, -1)
    if bias is not None:
        out = out + bias.float()
    return out.to(x.dtype).reshape(*x.shape[:-1], weight.shape[0])


def use_fp8_matmul(model: nn.Module, enabled: bool) -> None:
    """Switch the real fp8 matmul on or off for every Fp8Linear (it is used only where supported)."""
    for module in model.modules():
        if isinstance(module, Fp8Linear):
            module.fp8_matmul = enabled


def describe_fp8_path(model: nn.Module, device: torch.device) -> str:
    """How `model`'s fp8 layers run on `device`, for status lines ("" when it has none)."""
    layers = [module for module in model.modules() if isinstance(module, Fp8Linear)]
    if not layers:
        return ""
    wanted = [layer for layer in layers if layer.fp8_matmul]
    if not wanted:
        return "fp8 dequantised per layer (exact)"
    if not cuda_fp8_capable(device):
        return "fp8 dequantised per layer (exact: this device has no fp8 matmuls)"
    fast = sum(scaled_mm_weight(layer.weight) for layer in wanted)
    if fast == len(layers):
        return "fp8 matmuls"
    return f"fp8 matmuls in {fast} of {len(layers)} fp8 layers, the others dequantised"


def take_fp8_linear(
    tensors: dict[str, torch.Tensor],
    layer: str,
    compute_dtype: torch.dtype,
    *,
    fp8_dtype: torch.dtype | None = None,
    scale_suffix: str = ".weight_scale",
    input_suffix: str = ".input_scale",
) -> Fp8Linear:
    """Pop one fp8 layer's weight, scales and bias. A uint8 weight is read as `fp8_dtype` (ComfyUI stores both)."""
    try:
        weight = tensors.pop(f"{layer}.weight")
        scale = tensors.pop(f"{layer}{scale_suffix}")
    except KeyError as exc:
        raise ModelFileError(f"Quantised layer {layer!r} lacks tensor {exc}; the file is incomplete.") from None
    if weight.dtype == torch.uint8 and fp8_dtype is not None:
        weight = weight.view(fp8_dtype)
    if weight.dtype not in FP8_DTYPES or weight.ndim != 2 or (fp8_dtype is not None and weight.dtype != fp8_dtype):
        expected = fp8_dtype or "float8"
        raise ModelFileError(
            f"Quantised layer {layer!r} stores a {weight.dtype} weight of shape {tuple(weight.shape)}; expected a "
            f"2-D {expected} weight. The file is inconsistent."
        )
    if scale.numel() not in (1, weight.shape[0]):
        raise ModelFileError(
            f"Quantised layer {layer!r}: weight scale of shape {tuple(scale.shape)} fits neither one scale per tensor "
            f"nor one per output row ({weight.shape[0]})."
        )
    bias = tensors.pop(f"{layer}.bias", None)
    bias = None if bias is None else bias.to(compute_dtype)
    return Fp8Linear(weight, scale, bias, tensors.pop(f"{layer}{input_suffix}", None))


class OfficialFp8:
    """Official fp8 release: per-row `weight_scale` [out] beside a float8 weight (or the text encoder's flag)."""

    name = "official-fp8"

    def detect(self, headers: Sequence[SafetensorsHeader], config: Mapping | None) -> bool:
        if (config or {}).get("ideogram_fp8_weight_only"):
            return True
        return any(_is_row_scale(header, name) for header in headers for name in header.tensors)

    def take_linears(self, tensors: dict[str, torch.Tensor], compute_dtype: torch.dtype) -> dict[str, nn.Module]:
        layers = [name.removesuffix(".weight_scale") for name in tensors if name.endswith(".weight_scale")]
        return {layer: take_fp8_linear(tensors, layer, compute_dtype) for layer in layers}


def _is_row_scale(header: SafetensorsHeader, name: str) -> bool:
    if not name.endswith(".weight_scale"):
        return False
    weight = header.tensors.get(name.removesuffix("_scale"))
    scale = header.tensors[name].shape
    return weight is not None and weight.dtype in _SAFETENSORS_FP8 and len(scale) == 1 and scale[0] == weight.shape[0]
