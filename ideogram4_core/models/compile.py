"""Opt-in `torch.compile` of the transformer blocks (`--compile`, the sampler's "compile" option).

Each block is compiled once with `dynamic=False` and the compiled module is kept for as long as the block lives,
so later runs reuse it; a new sequence shape (another size, the other branch) compiles one more specialisation.
All blocks share one code object, so one compilation per shape serves the whole stack. The block forward has no
data-dependent Python control flow, so a sampling step runs as whole compiled graphs with no graph break. The
result equals the eager blocks up to float rounding; the first run of each shape pays the compilation.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from torch import nn

_COMPILED: weakref.WeakKeyDictionary[nn.Module, dict[str, Callable[..., torch.Tensor]]] = weakref.WeakKeyDictionary()


def compiled_blocks(model: nn.Module, backend: str = "inductor") -> list[Callable[..., torch.Tensor]]:
    """The compiled version of each block of `model.layers` (cached per block module and backend)."""
    return [_compiled(block, backend) for block in model.layers]


def _compiled(block: nn.Module, backend: str) -> Callable[..., torch.Tensor]:
    per_backend = _COMPILED.setdefault(block, {})
    if backend not in per_backend:
        per_backend[backend] = torch.compile(block, dynamic=False, backend=backend)
    return per_backend[backend]
