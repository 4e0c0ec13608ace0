"""Base of the Linear layers that keep their weight quantised and dequantise it on every call."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DequantLinear(nn.Module):
    """A Linear whose weight lives in a packed form; subclasses say how to expand it (`dequantized_weight`).

    Everything is a buffer (nothing trains), so `.to(device)` moves it as stored. Do not call `.to(dtype)`
    on a model holding these layers: it would cast the packed floating-point storage too.
    """

    def __init__(self, out_features: int, in_features: int, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.out_features, self.in_features = out_features, in_features
        self.register_buffer("bias", bias)

    def dequantized_weight(self, dtype: torch.dtype) -> torch.Tensor:
        """The full [out, in] weight, computed in float32 (one rounding) and returned in `dtype`."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dequantized_weight(x.dtype), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
