"""Per-step cost of a rank-32 LoRA on a quantised (official fp8) transformer: ours vs the diffusers/PEFT oracle.

    python benchmarks/bench_lora.py                      # CPU: 6 blocks, hidden 1024, 512² image, fp32
    python benchmarks/bench_lora.py --device cuda --dtype bf16 --layers 34 --heads 18 --size 1024

Writes a random transformer in the official fp8 format (the test fixture writer, which leaves the diffusers model
holding the exactly dequantised weights) and a rank-32 PEFT LoRA on every block Linear (q, k, v, out, w1, w2,
w3), written by PEFT and diffusers. Then times one transformer forward pass (seconds per sampling step, one
image, guidance 1):

- ours: the fp8 model as loaded; with the LoRA as a side branch (`with_loras`); with the LoRA merged (the
  dequantised weights plus ΔW in the compute dtype: what merging costs when the weights must not be re-quantised);
- oracle: the diffusers model; with the PEFT adapter loaded (`load_lora_adapter`, unmerged); fused (`fuse_lora`).

Every setting runs once per round, interleaved, and the fastest of the rounds counts, so a busy machine slows
all settings alike. Each overhead is relative to its own side's base; the last column is ours / oracle.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from diffusers import Ideogram4Pipeline, Ideogram4Transformer2DModel  # noqa: E402
from fixtures_lora import merged, peft_lora  # noqa: E402
from fixtures_model import TINY_DIT, randomized  # noqa: E402
from fixtures_quant import write_official_fp8_transformer  # noqa: E402
from test_transformer import reference_velocity  # noqa: E402

from ideogram4_core.weights.lora import LoraUse, read_lora, with_loras  # noqa: E402
from ideogram4_core.weights.transformer_weights import load_transformer  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
TEXT_FEATURES = TINY_DIT["llm_features_dim"]  # what the reference helper packs (text width barely matters here)
TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "w1", "w2", "w3"]


def fastest(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Seconds per call of each run: the fastest of `rounds` interleaved calls (robust to a busy machine)."""
    best = dict.fromkeys(runs, float("inf"))
    with torch.inference_mode():
        for run in runs.values():
            run()  # warm-up
        for _ in range(rounds):
            for name, run in runs.items():
                sync()
                start = time.perf_counter()
                run()
                sync()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=4, help="attention heads of 256 channels")
    parser.add_argument("--size", type=int, default=512, help="image width = height in pixels")
    parser.add_argument("--text", type=int, default=128, help="caption tokens")
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--passes", type=int, default=5, help="interleaved rounds; the fastest call counts")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=DTYPES, default="fp32")
    args = parser.parse_args()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    hidden = 256 * args.heads
    config = dict(num_layers=args.layers, attention_head_dim=256, num_attention_heads=args.heads,
                  intermediate_size=hidden * 11 // 4, adaln_dim=256, llm_features_dim=TEXT_FEATURES)  # fmt: skip
    reference = randomized(Ideogram4Transformer2DModel(**config), seed=0, scale=0.02)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_official_fp8_transformer(folder / "transformer", reference, fused=True)
        file, adapters = peft_lora(folder, reference, TARGETS, rank=args.rank, alpha=args.rank, seed=1)
        ours = load_transformer(folder / "transformer", device=device, dtype=dtype)
        lora = read_lora(file)
        state, metadata = Ideogram4Pipeline.lora_state_dict(str(file), return_lora_metadata=True)
    ours_merged = load_fused(merged(reference, (adapters, 1.0)), device, dtype)
    oracle = copy.deepcopy(reference).to(device, dtype)
    with_peft = copy.deepcopy(reference).to(device, dtype)
    with_peft.load_lora_adapter(state, adapter_name="bench", prefix="transformer", metadata=metadata)
    fused = copy.deepcopy(with_peft)
    fused.fuse_lora(adapter_names=["bench"])

    grid = (args.size // 16, args.size // 16)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, grid[0] * grid[1], 128, generator=gen).to(device, dtype)
    text = torch.randn(1, args.text, TEXT_FEATURES, generator=gen).to(device, dtype)
    t = torch.tensor([0.5], device=device)
    rope = ours.rotary(args.text, grid, device)
    side = with_loras(ours, (LoraUse(lora, 1.0),))

    def run_ours(model):
        return lambda: model(x, t, rope, text)

    def run_oracle(model):
        return lambda: reference_velocity(model, x, t, text, grid)

    names = ["base (fp8 / dequantised)", f"rank-{args.rank} LoRA, side branch", f"rank-{args.rank} LoRA, merged"]
    times = fastest(
        {
            **{("ours", n): run_ours(m) for n, m in zip(names, (ours, side, ours_merged), strict=True)},
            **{("oracle", n): run_oracle(m) for n, m in zip(names, (oracle, with_peft, fused), strict=True)},
        },
        args.passes,
    )
    rows = {name: (times["ours", name], times["oracle", name]) for name in names}
    base_ours, base_oracle = rows["base (fp8 / dequantised)"]
    print(f"{args.layers} blocks, hidden {hidden}, {args.size}², {args.text} text tokens, {args.dtype} on {device}")
    print(
        f"{'':34s} {'ours s/step':>12s} {'overhead':>9s} {'oracle s/step':>14s} {'overhead':>9s} {'ours/oracle':>12s}"
    )
    for name, (a, b) in rows.items():
        print(f"{name:34s} {a:12.4f} {a / base_ours - 1:+9.1%} {b:14.4f} {b / base_oracle - 1:+9.1%} {a / b:12.2f}")


def load_fused(model: Ideogram4Transformer2DModel, device: torch.device, dtype: torch.dtype):
    """Our transformer holding `model`'s (merged, dequantised) weights in the compute dtype."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        return load_transformer(tmp, device=device, dtype=dtype)


if __name__ == "__main__":
    main()
