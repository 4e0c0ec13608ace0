"""Cost of block streaming: one transformer forward pass resident on the GPU vs streamed from host RAM.

    python benchmarks/bench_streaming.py [--layers 34] [--size 1024] [--text 512] [--dtype bf16]

Builds the released-size transformer (constant weights, no file needed; --layers fewer for a quick look) and
prints seconds per forward pass: resident, streamed with prefetch (pageable and pinned host memory) and streamed
without prefetch, plus the host→device bytes per pass. Meant for a CUDA GPU (about 2× the weights in RAM);
`--device cpu` only checks that it runs.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from ideogram4_core.models.offload import BlockStreamer
from ideogram4_core.models.transformer import Ideogram4Transformer, TransformerConfig

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def build(layers: int, dtype: torch.dtype) -> Ideogram4Transformer:
    with torch.device("meta"):
        model = Ideogram4Transformer(replace(TransformerConfig(), num_layers=layers))
    model = model.to_empty(device="cpu").to(dtype).eval().requires_grad_(False)
    for tensor in model.state_dict().values():
        tensor.fill_(0.01)
    return model


def timed(model: Ideogram4Transformer, inputs: tuple, passes: int) -> float:
    with torch.inference_mode():
        model(*inputs)  # warm-up (and first copies)
        synchronize()
        start = time.perf_counter()
        for _ in range(passes):
            model(*inputs)
        synchronize()
    return (time.perf_counter() - start) / passes


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_gib(device: torch.device) -> float:
    """Peak device memory since the last call (0 on the CPU)."""
    if device.type != "cuda":
        return 0.0
    peak = torch.cuda.max_memory_allocated(device) / 2**30
    torch.cuda.reset_peak_memory_stats(device)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=34)
    parser.add_argument("--size", type=int, default=1024, help="image width = height in pixels")
    parser.add_argument("--text", type=int, default=512, help="caption tokens")
    parser.add_argument("--dtype", choices=DTYPES, default="bf16")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    model = build(args.layers, DTYPES[args.dtype])
    grid = (args.size // 16, args.size // 16)
    x = torch.randn(1, grid[0] * grid[1], 128, device=device)
    text = torch.randn(1, args.text, model.config.llm_features_dim, device=device)
    inputs = (x, torch.tensor([0.5], device=device), model.rotary(args.text, grid, device), text)
    for name, options in {
        "streamed, prefetch, pageable": {"prefetch": True},
        "streamed, prefetch, pinned": {"prefetch": True, "pin_memory": True},
        "streamed, no prefetch": {"prefetch": False},
    }.items():
        with BlockStreamer(model, model.layers, device, **options) as streamer:
            seconds = timed(model, inputs, args.passes)
        print(f"{name:30s} {seconds:7.3f} s/pass  peak {peak_gib(device):5.1f} GiB", flush=True)
    print(f"host→device per streamed pass: {streamer.bytes_per_pass / 2**30:.2f} GiB")
    model.to(device)
    resident = timed(model, inputs, args.passes)
    print(f"{'resident':30s} {resident:7.3f} s/pass  peak {peak_gib(device):5.1f} GiB")


if __name__ == "__main__":
    main()
