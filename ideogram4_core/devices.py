"""Device and compute-dtype defaults: CUDA + bf16 when available, else CPU + fp32."""

from __future__ import annotations

import torch

from .errors import Ideogram4Error

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise Ideogram4Error("--device cuda was requested but no CUDA GPU is visible. Use --device cpu.")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return DTYPES[name]
    except KeyError:
        raise Ideogram4Error(f"Unknown dtype {name!r}; use one of auto, {', '.join(DTYPES)}.") from None
