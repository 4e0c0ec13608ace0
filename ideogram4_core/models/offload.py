"""Block streaming: run a model whose weights do not fit on the compute device, one block at a time.

While a `BlockStreamer` is active, everything of the model except its repeated blocks sits on the compute
device; each block's tensors are copied there just before the block runs and dropped right after it, so the
device holds at most two blocks (the running one and the next, prefetched on a side CUDA stream). The
module's own tensors are never replaced: the device copies are attached to it only while needed and the
original (offload) tensors are re-attached afterwards, so leaving the context restores the model exactly and
streaming never writes weights back to the host.

Cost: every forward pass copies all block weights host→device once (for the released transformer ≈ 9.3 GB in
fp8, ≈ 18.6 GB in bf16, ≈ 5 GB in nvfp4/nf4). With prefetch the copy of block i+1 overlaps the compute of
block i; it hides fully only when a block's compute takes longer than its copy (large images, fast links).
Pinned host memory (`pin_memory=True`) makes the copies truly asynchronous but pins the model's size in RAM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class _Slot:
    """One parameter or buffer: the table it hangs in (a module's `_parameters` or `_buffers`) and its original.

    Device copies are put in the table as plain tensors while needed; `restore` puts the original object back.
    """

    table: dict[str, torch.Tensor | None]
    name: str
    original: torch.Tensor
    source: torch.Tensor = field(init=False)  # what copies are made from: `original` or its pinned twin

    def __post_init__(self) -> None:
        self.source = self.original.detach()

    def attach(self, tensor: torch.Tensor) -> None:
        self.table[self.name] = tensor

    def restore(self) -> None:
        self.table[self.name] = self.original


def _slots(modules: Sequence[nn.Module], skip: set[int] = frozenset()) -> list[_Slot]:
    """Every parameter and buffer reachable from `modules`, not descending into modules whose id is in `skip`."""
    slots, seen = [], set(skip)
    stack = list(modules)
    while stack:
        module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        for table in (module._parameters, module._buffers):
            slots += [_Slot(table, name, tensor) for name, tensor in table.items() if tensor is not None]
        stack += [child for child in module._modules.values() if child is not None]
    return slots


@dataclass
class _Block:
    slots: list[_Slot]
    ready: torch.cuda.Event | None = None
    loaded: bool = False
    copies: list[torch.Tensor] = field(default_factory=list)


class BlockStreamer:
    """Context manager that streams `blocks` of `model` to `device` as they run (see the module docstring).

    `blocks` must run in order, each once per forward pass (like `Ideogram4Transformer.layers`). `transfers`
    counts block copies made so far; `bytes_per_pass` is what one full pass copies.
    """

    def __init__(
        self,
        model: nn.Module,
        blocks: Sequence[nn.Module],
        device: torch.device | str,
        *,
        prefetch: bool = True,
        pin_memory: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.blocks = list(blocks)
        self._resident = _slots([model], skip={id(b) for b in self.blocks})
        self._streamed = [_Block(_slots([b])) for b in self.blocks]
        self._stream = torch.cuda.Stream(self.device) if prefetch and self.device.type == "cuda" else None
        self._pin = pin_memory and self.device.type == "cuda"
        self._hooks: list = []
        self.transfers = 0

    @property
    def bytes_per_pass(self) -> int:
        return sum(slot.original.nbytes for slot in self._streamed_slots())

    def resident_blocks(self) -> list[int]:
        """Indices of the blocks whose weights are on the device right now."""
        return [i for i, block in enumerate(self._streamed) if block.loaded]

    def __enter__(self) -> BlockStreamer:
        for slot in self._resident:
            slot.attach(slot.source.to(self.device))
        if self._pin:
            for slot in self._streamed_slots():
                slot.source = slot.source.pin_memory()
        for i, block in enumerate(self.blocks):
            self._hooks.append(block.register_forward_pre_hook(lambda *_, i=i: self._before(i)))
            self._hooks.append(block.register_forward_hook(lambda *_, i=i: self._after(i)))
        return self

    def __exit__(self, *exc: object) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        for i in range(len(self._streamed)):
            self._drop(i)
        for slot in self._resident:
            slot.restore()
        for slot in self._streamed_slots():
            slot.source = slot.original.detach()

    def _streamed_slots(self) -> list[_Slot]:
        return [slot for block in self._streamed for slot in block.slots]

    def _before(self, i: int) -> None:
        block = self._streamed[i]
        if not block.loaded:
            self._load(i, stream=None)
        if block.ready is not None:
            torch.cuda.current_stream(self.device).wait_event(block.ready)
            for copy in block.copies:
                copy.record_stream(torch.cuda.current_stream(self.device))
            block.ready = None
        for slot, copy in zip(block.slots, block.copies, strict=True):
            slot.attach(copy)
        if self._stream is not None:
            self._load((i + 1) % len(self._streamed), stream=self._stream)

    def _after(self, i: int) -> None:
        self._drop(i)

    def _load(self, i: int, stream: torch.cuda.Stream | None) -> None:
        block = self._streamed[i]
        if block.loaded:
            return
        if stream is None:
            block.copies = [s.source.to(self.device) for s in block.slots]
        else:
            with torch.cuda.stream(stream):
                block.copies = [s.source.to(self.device, non_blocking=True) for s in block.slots]
                block.ready = torch.cuda.Event()
                block.ready.record(stream)
        block.loaded = True
        self.transfers += 1

    def _drop(self, i: int) -> None:
        block = self._streamed[i]
        for slot in block.slots:
            slot.restore()
        block.copies, block.ready, block.loaded = [], None, False
