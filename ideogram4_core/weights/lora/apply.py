"""Applying LoRAs without touching the base weights: a low-rank side branch on each adapted layer's output.

For a layer y = base(x) (any weight format: plain, fp8, nf4, nvfp4, split q/k/v fused by ConcatLinear) the
stack adds Σ strength · scale · (x Aᵀ) Bᵀ, which equals running the layer with W + Σ strength · scale · B A —
the LoRA merged into the exactly dequantised weight — without ever dequantising or re-quantising it. All
adapters of one layer are concatenated into one (down [R, in], up [out, R]) pair, so a stack of any depth costs
two thin matmuls per layer; split q/k/v adapters fill their row third of `up` (the other rows stay exactly 0).

`with_loras(base, stack)` returns a module that attaches the branches as forward hooks for the duration of
each call and removes them afterwards, so one cached base model can serve several stacks at once — e.g. the
conditional branch and, in single-model mode, the unconditional one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ModelFileError
from ...models.transformer import BranchInputs, Ideogram4Transformer
from .reading import LoraFile


@dataclass(frozen=True)
class LoraUse:
    """One LoRA file at one strength (negative allowed)."""

    lora: LoraFile
    strength: float

    def describe(self) -> str:
        return f"{self.lora.name} @ {self.strength:g}"


LoraStack = tuple[LoraUse, ...]


class SideBranch:
    """The combined low-rank update of one layer, as a forward hook: output + (x downᵀ) upᵀ."""

    def __init__(self, down: torch.Tensor, up: torch.Tensor) -> None:
        self.down, self.up = down, up  # float32 on the CPU; `up` already holds strength · scale
        self._cast: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def rank(self) -> int:
        return self.down.shape[0]

    def factors(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The factors on `device` in `dtype` (converted once per device and dtype)."""
        key = (device, dtype)
        if key not in self._cast:
            self._cast[key] = (self.down.to(device, dtype), self.up.to(device, dtype))
        return self._cast[key]

    def __call__(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        down, up = self.factors(output.device, output.dtype)
        x = args[0] if args[0].dtype == output.dtype else args[0].to(output.dtype)
        low_rank = F.linear(x.reshape(-1, x.shape[-1]), down)
        if not output.is_contiguous():
            return output + F.linear(low_rank, up).view(output.shape)
        # The layer's output is a fresh tensor: accumulate into it (one GEMM, no extra [tokens, out] buffers).
        output.view(-1, output.shape[-1]).addmm_(low_rank, up.t())
        return output


def side_branches(model: nn.Module, stack: Sequence[LoraUse]) -> dict[str, SideBranch]:
    """One SideBranch per adapted layer of `model` (our module paths); checks every LoRA fits the model."""
    pieces: dict[str, list] = {}
    for use in stack:
        use.lora.check_fits(model.config)
        for adapter in use.lora.adapters:
            pieces.setdefault(adapter.target, []).append((adapter, use.strength * adapter.scale))
    branches = {}
    for target, parts in pieces.items():
        layer = model.get_submodule(target)
        rows = layer.out_features // 3
        down = torch.cat([adapter.down for adapter, _ in parts])
        up = torch.zeros(layer.out_features, down.shape[0])
        column = 0
        for adapter, factor in parts:
            start = 0 if adapter.third is None else adapter.third * rows
            up[start : start + adapter.up.shape[0], column : column + adapter.rank] = adapter.up * factor
            column += adapter.rank
        branches[target] = SideBranch(down, up)
    return branches


@contextlib.contextmanager
def attached(model: nn.Module, branches: dict[str, SideBranch]) -> Iterator[None]:
    """Hook `branches` onto `model`'s layers for the `with` block; the hooks are always removed afterwards."""
    handles = []
    try:
        for target, branch in branches.items():
            handles.append(model.get_submodule(target).register_forward_hook(branch))
        yield
    finally:
        for handle in handles:
            handle.remove()


class LoraTransformer(nn.Module):
    """An Ideogram 4 transformer seen through a LoRA stack. The base module is shared and never modified."""

    def __init__(self, base: Ideogram4Transformer, stack: LoraStack) -> None:
        super().__init__()
        if isinstance(base, LoraTransformer):
            raise ModelFileError("LoRA stacks are combined before they are applied; pass the base transformer.")
        self.base = base
        self.stack = stack
        self.branches = side_branches(base, stack)
        self._attached_now = False

    @property
    def config(self):
        return self.base.config

    @property
    def dtype(self) -> torch.dtype:
        return self.base.dtype

    @property
    def layers(self) -> nn.ModuleList:
        return self.base.layers

    def rotary(self, *args, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        return self.base.rotary(*args, **kwargs)

    @contextlib.contextmanager
    def _active(self) -> Iterator[None]:
        """The side branches attached, once: nested calls (a block inside `run`) reuse the outer attachment."""
        if self._attached_now:
            yield
            return
        self._attached_now = True
        try:
            with attached(self.base, self.branches):
                yield
        finally:
            self._attached_now = False

    def _call(self, function: Callable[..., torch.Tensor], *args, **kwargs) -> torch.Tensor:
        with self._active():
            return function(*args, **kwargs)

    def prepare(self, *args, **kwargs) -> BranchInputs:
        """The base's per-run inputs; its blocks run with the side branches attached (also for step caching)."""
        inputs = self._call(self.base.prepare, *args, **kwargs)
        blocks = [functools.partial(self._call, block) for block in inputs.blocks]
        return dataclasses.replace(inputs, blocks=blocks)

    def run(self, *args, **kwargs) -> torch.Tensor:
        return self._call(self.base.run, *args, **kwargs)

    def time_conditioning(self, *args, **kwargs) -> torch.Tensor:
        return self._call(self.base.time_conditioning, *args, **kwargs)

    def embed(self, *args, **kwargs) -> torch.Tensor:
        return self._call(self.base.embed, *args, **kwargs)

    def head(self, *args, **kwargs) -> torch.Tensor:
        return self._call(self.base.head, *args, **kwargs)

    def forward(self, *args, **kwargs) -> torch.Tensor:
        return self._call(self.base, *args, **kwargs)


def with_loras(base: Ideogram4Transformer, stack: Sequence[LoraUse]) -> nn.Module:
    """`base` itself without LoRAs (bit-identical to no LoRA at all), else a LoraTransformer over it."""
    stack = tuple(use for use in stack if use.strength != 0.0)
    return LoraTransformer(base, stack) if stack else base
