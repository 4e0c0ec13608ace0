"""No host synchronisation inside the sampling loop: no tensor is read on the host between steps.

On CUDA `torch.cuda.set_sync_debug_mode` would report syncs; on the CPU this test records every call that
reads a tensor's value on the host (`item`, `bool`, `float`, `int`, `tolist`, `nonzero`, moves to the CPU …)
while steps run, with a TorchFunctionMode around the sampler. Once-per-run work (`prepare`, the start step) may
read values; steps after the first callback must not.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from test_sampler import CFG, GRID, SIZE, settings
from torch.overrides import TorchFunctionMode

from ideogram4_core.models.transformer import Ideogram4Transformer
from ideogram4_core.sampling.masks import TokenMask
from ideogram4_core.sampling.sampler import StartLatent, initial_noise, sample
from ideogram4_core.weights.lora import LoraUse, with_loras
from ideogram4_core.weights.lora.reading import LoraFile, LowRank

HOST_READS = {
    torch.Tensor.item, torch.Tensor.__bool__, torch.Tensor.__float__, torch.Tensor.__int__, torch.Tensor.__index__,
    torch.Tensor.tolist, torch.Tensor.nonzero, torch.Tensor.cpu, torch.Tensor.numpy, torch.nonzero,
}  # fmt: skip


class HostReads(TorchFunctionMode):
    """Counts host reads, split by whether the first step's callback has run yet."""

    def __init__(self) -> None:
        super().__init__()
        self.in_loop = False
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.in_loop and func in HOST_READS:
            self.seen.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def model(seed: int) -> Ideogram4Transformer:
    torch.manual_seed(seed)
    return Ideogram4Transformer(replace(CFG, num_layers=2)).eval()


def reads_in_loop(cond, uncond, **kwargs) -> list[str]:
    reads = HostReads()

    def callback(step, total, x, denoised):
        reads.in_loop = True

    with reads:
        sample(cond, uncond, [torch.randn(5, 24)], initial_noise(0, 1, 6), GRID, SIZE, settings(steps=5),
               callback, **kwargs)  # fmt: skip
    return reads.seen


def test_steps_read_nothing_on_the_host():
    assert reads_in_loop(model(0), model(1)) == []


def test_masked_image_to_image_steps_read_nothing_on_the_host():
    mask = TokenMask(torch.tensor([[1.0, 0.0, 1.0, 0.5, 0.0, 1.0]]))
    start = StartLatent(torch.randn(1, 6, 128), 0.8, mask)
    assert reads_in_loop(model(0), model(1), start=start) == []


def test_lora_side_branches_read_nothing_on_the_host(tmp_path):
    cond = model(0)
    dim, gen = cond.config.hidden_size, torch.Generator().manual_seed(1)
    adapters = tuple(
        LowRank(f"layers.0.attention.{name}", "layers.0.attention.qkv", third, torch.randn(4, dim, generator=gen),
                torch.randn(dim, 4, generator=gen), 0.5)
        for third, name in enumerate(("to_q", "to_k", "to_v"))
    )  # fmt: skip
    lora = LoraFile(tmp_path / "lora.safetensors", "peft", adapters, None)
    assert reads_in_loop(with_loras(cond, (LoraUse(lora, 0.7),)), model(1)) == []


def test_the_audit_sees_host_reads():
    """The step cache decides on the host once per step by design, so the mode must report it."""
    assert "__bool__" in reads_in_loop(model(0), model(1), step_cache=1e9)
