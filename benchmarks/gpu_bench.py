"""One transformer forward per branch on a GPU: ours in bf16, fp8 and nf4 against the diffusers reference.

    bash benchmarks/gpu_bench.sh                 # = python benchmarks/gpu_bench.py; < 8 min on one H200
    python benchmarks/gpu_bench.py --tiny        # tiny config on the CPU (what the test suite runs)

Random full-size weights are built directly on the GPU (no files, no downloads): the diffusers 0.42.1
`Ideogram4Transformer2DModel` in bf16, then ours on the same tensors (q/k/v fused), an fp8 copy (per-row e4m3
scales; real `torch._scaled_mm` matmuls where compute capability ≥ 8.9, else dequantised per call) and an nf4
copy (bitsandbytes' quantiser and kernels) of every block Linear. Each cell times one forward of one branch at
one size with a 600-token caption: the conditional branch sees `[caption][image]` (the reference, as its
pipeline calls it, the caption left-padded to 2048 tokens with a segment mask), the unconditional one the image
alone. Reported per format and size: ms per forward, achieved TFLOP/s (the useful matmul FLOPs of our real-token
sequence, see `ideogram4_core.models.costs`, over the time) against the device's dense peak, seconds per
V4_DEFAULT_20 image (every step's branches, polish steps included), and peak memory with both branches resident
(2 × the weights + the larger forward's measured activation peak; computed from the cost model on the CPU), and
for the quantised formats the relative error ‖out − out_bf16‖ / ‖out_bf16‖ of the conditional forward against
ours in bf16 on the same weights; for fp8 on a capable GPU also the dequantised fp8 path's error, which splits
the fp8 matmul's cost (activations rounded to e4m3) from the weights' own rounding. A failing cell prints its
error and the rest go on; cells after the time box are skipped.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ideogram4_core.models.costs import activation_bytes, forward_flops  # noqa: E402
from ideogram4_core.models.modules import materialize  # noqa: E402
from ideogram4_core.models.transformer import Ideogram4Transformer, TransformerConfig  # noqa: E402
from ideogram4_core.sampling.latents import token_grid  # noqa: E402
from ideogram4_core.sampling.schedule import PRESETS  # noqa: E402
from ideogram4_core.weights.quant.fp8 import E4M3_MAX, Fp8Linear, cuda_fp8_capable, use_fp8_matmul  # noqa: E402
from ideogram4_core.weights.quant.nf4 import Nf4Linear  # noqa: E402
from ideogram4_core.weights.transformer_weights import to_original_names  # noqa: E402

REFERENCE_TEXT_SLOTS = 2048  # the reference pipeline pads every caption to this many tokens
PRESET = "V4_DEFAULT_20"


@dataclass(frozen=True)
class Setup:
    """Model sizes, image sides, caption length, compute dtype and the seconds of timed forwards per cell
    (0: the warm-up forward is the only one)."""

    cfg: TransformerConfig
    sizes: tuple[int, ...]
    caption: int
    dtype: torch.dtype
    cell_seconds: float
    memory_unit: tuple[str, int]


FULL = Setup(TransformerConfig(), (1024, 2048), 600, torch.bfloat16, 2.0, ("GiB", 2**30))
# CPUs without bf16 matmul units emulate it several times slower than fp32, so the CPU check computes in fp32.
TINY = Setup(TransformerConfig(num_layers=2, attention_head_dim=64, num_attention_heads=2, intermediate_size=256,
                               adaln_dim=32, llm_features_dim=13 * 16, mrope_section=(8, 8, 8)),
             (64, 128), 64, torch.float32, 0.0, ("MiB", 2**20))  # fmt: skip
FORMATS = ("diffusers", "ours", "ours fp8", "ours nf4")  # plain weights in the compute dtype, then quantised

# Dense (no sparsity) tensor-core peaks in TFLOP/s: (bf16, fp8). Matched by substring of the device name, in order.
PEAKS = [
    ("H200", (989.0, 1979.0)),
    ("H100 PCIe", (756.0, 1513.0)),
    ("H100 NVL", (835.0, 1671.0)),
    ("H100", (989.0, 1979.0)),
    ("H800", (989.0, 1979.0)),
    ("GH200", (989.0, 1979.0)),
    ("B200", (2250.0, 4500.0)),
    ("A100", (312.0, None)),
    ("A800", (312.0, None)),
    ("L40S", (362.0, 733.0)),
    ("L40", (181.0, 362.0)),
    ("L4", (121.0, 242.0)),
    ("A10G", (70.0, None)),
    ("A10", (125.0, None)),
    ("RTX 6000 Ada", (364.0, 728.0)),
    ("RTX 5090", (209.5, 419.0)),
    ("RTX 4090", (165.2, 330.3)),
    ("RTX 4080", (97.5, 194.9)),
    ("RTX 3090", (71.0, None)),
]


@dataclass
class Cell:
    """One format at one size: per-branch ms and activation peaks, or the error that stopped it."""

    ms: dict[str, float]
    activation: dict[str, float]
    note: str = ""
    error: str = ""
    vs_bf16: float | None = None  # relative error of the conditional forward against ours in bf16
    dequantised_vs_bf16: float | None = None  # fp8 with fp8 matmuls: the same for the dequantised fp8 path


def device_peak(device: torch.device, fp8: bool) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, (bf16, fp8_peak) in PEAKS:
        if key in name:
            return fp8_peak if fp8 else bf16
    return None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(run: Callable[[], object], device: torch.device, budget_s: float) -> tuple[float, float | None]:
    """(median ms of the forwards after one warm-up, the warm-up's activation peak in bytes on CUDA).

    As many forwards as fit `budget_s` (at most 5) follow the warm-up; with a budget of 0 the warm-up is timed.
    """
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    start = time.perf_counter()
    with torch.inference_mode():
        run()
        sync(device)
        first = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated(device) - base if device.type == "cuda" else None
        times = [first] if budget_s == 0 else []
        for _ in range(min(5, int(budget_s / max(first, 1e-6))) if budget_s else 0):
            start = time.perf_counter()
            run()
            sync(device)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), peak


def tensor_bytes(model: nn.Module) -> int:
    """Bytes of the distinct storages behind a model's parameters and buffers."""
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in model.state_dict().values()}
    return sum(storages.values())


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """‖got − expected‖ / ‖expected‖ in float32."""
    return float((got.float() - expected.float()).norm() / expected.float().norm())


def build_reference(cfg: TransformerConfig, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """The diffusers transformer with its own random init, built directly on `device` in `dtype`."""
    from diffusers import Ideogram4Transformer2DModel

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Ideogram4Transformer2DModel(**asdict(cfg))
    finally:
        torch.set_default_dtype(previous)
    return model.eval().requires_grad_(False)


def ours_from(reference: nn.Module, cfg: TransformerConfig) -> Ideogram4Transformer:
    """Our transformer on the reference's tensors (shared; only q/k/v are concatenated into `qkv`)."""
    return materialize(lambda: Ideogram4Transformer(cfg), to_original_names(reference.state_dict()),
                       dtype=None, what="benchmark transformer")  # fmt: skip


def quantised(model: Ideogram4Transformer, fmt: str) -> Ideogram4Transformer:
    """A copy of `model` with every block Linear in `fmt` ("fp8" or "nf4"); the other tensors are shared."""
    replacements = {
        path: (_fp8 if fmt == "fp8" else _nf4)(module)
        for path, module in model.named_modules()
        if path.startswith("layers.") and isinstance(module, nn.Linear)
    }
    state = {k: v for k, v in model.state_dict().items() if k.rsplit(".", 1)[0] not in replacements}
    return materialize(lambda: Ideogram4Transformer(model.config), state, dtype=None,
                       what="benchmark transformer", replacements=replacements)  # fmt: skip


def _fp8(linear: nn.Linear) -> Fp8Linear:
    """Per-row e4m3 with float32 scales, as the official fp8 release stores a Linear."""
    weight = linear.weight.float()
    scale = weight.abs().amax(dim=1).clamp_min(1e-12) / E4M3_MAX
    return Fp8Linear((weight / scale[:, None]).to(torch.float8_e4m3fn), scale, linear.bias)


def _nf4(linear: nn.Linear) -> Nf4Linear:
    """bitsandbytes NF4 (blocksize 64, no nested statistics), as the official nf4 release stores a Linear."""
    import bitsandbytes.functional as bnb

    packed, state = bnb.quantize_4bit(linear.weight, blocksize=64, quant_type="nf4", compress_statistics=False)
    return Nf4Linear(packed, state.absmax, state.code, tuple(linear.weight.shape), 64, linear.bias)


class Inputs:
    """Random latents and caption features for one size, in the layouts ours and the reference take."""

    def __init__(self, setup: Setup, size: int, device: torch.device, dtype: torch.dtype) -> None:
        cfg, self.caption = setup.cfg, setup.caption
        self.grid = token_grid(size, size)
        gen = torch.Generator().manual_seed(0)
        n = self.grid[0] * self.grid[1]
        self.x = torch.randn(1, n, cfg.in_channels, generator=gen).to(device, dtype)
        self.text = torch.randn(1, self.caption, cfg.llm_features_dim, generator=gen).to(device, dtype)
        self.t = torch.full((1,), 0.5, device=device, dtype=dtype)
        self.device, self.cfg = device, cfg

    def ours(self, model: Ideogram4Transformer, branch: str) -> Callable[[], torch.Tensor]:
        text = self.text if branch == "cond" else None
        with torch.inference_mode():
            rope = model.rotary(0 if text is None else self.caption, self.grid, self.device)
            prepared = model.prepare(rope, text)
        return lambda: model.run(self.x, self.t, prepared)

    def reference(self, model: nn.Module, branch: str) -> Callable[[], torch.Tensor]:
        """The reference transformer called exactly as `Ideogram4Pipeline.__call__` calls it."""
        from diffusers import Ideogram4Pipeline

        slots, n = REFERENCE_TEXT_SLOTS, self.x.shape[1]
        position, segment, indicator = Ideogram4Pipeline._prepare_ids([self.caption], *self.grid, slots, self.device)
        width = self.cfg.llm_features_dim
        if branch == "cond":
            features = self.text.new_zeros(1, slots + n, width)
            features[:, slots - self.caption : slots] = self.text
            hidden = torch.cat([self.x.new_zeros(1, slots, self.cfg.in_channels), self.x], dim=1)
        else:
            features = self.text.new_zeros(1, n, width)
            hidden = self.x
            position, segment, indicator = position[:, slots:], segment[:, slots:], indicator[:, slots:]
        return lambda: model(hidden, self.t, features, position, segment, indicator, return_dict=False)[0]


def run_benchmark(setup: Setup, time_box: float, device: torch.device) -> dict[tuple[str, int], Cell]:
    cfg, dtype = setup.cfg, setup.dtype
    deadline = time.perf_counter() + time_box
    results: dict[tuple[str, int], Cell] = {}
    weights: dict[str, int] = {}
    inputs = {size: Inputs(setup, size, device, dtype) for size in setup.sizes}
    models: dict[str, nn.Module] = {}
    bf16_out: dict[int, torch.Tensor] = {}  # ours, conditional branch, per size

    def model_for(fmt: str) -> nn.Module:
        if fmt == "diffusers":
            return build_reference(cfg, device, dtype)
        if fmt == "ours":
            return ours_from(models["diffusers"], cfg)
        model = quantised(models["ours"], fmt.split()[1])
        use_fp8_matmul(model, True)
        return model

    for fmt in FORMATS:
        try:
            models[fmt] = model_for(fmt)
            weights[fmt] = tensor_bytes(models[fmt])
        except Exception as exc:  # report and go on with the next format
            print(f"ERROR building {fmt}: {type(exc).__name__}: {exc}", flush=True)
            for size in inputs:
                results[(fmt, size)] = Cell({}, {}, error=f"build failed: {type(exc).__name__}")
            continue
        note = ""
        if fmt == "ours fp8":
            note = "scaled_mm" if cuda_fp8_capable(device) else "dequantised per call"
        for size, data in inputs.items():
            cell = results[(fmt, size)] = Cell({}, {}, note=note)
            for branch in ("cond", "uncond"):
                if time.perf_counter() > deadline:
                    cell.error = "skipped: time box"
                    break
                try:
                    make = data.reference if fmt.startswith("diffusers") else data.ours
                    cell.ms[branch], peak = timed(make(models[fmt], branch), device, setup.cell_seconds)
                    text = setup.caption if branch == "cond" else 0
                    cell.activation[branch] = (
                        peak if peak is not None else activation_bytes(cfg, text, data.x.shape[1], dtype.itemsize)
                    )
                except Exception as exc:  # report and go on with the next cell
                    print(f"ERROR {fmt} {size}² {branch}: {type(exc).__name__}: {exc}", flush=True)
                    cell.error = f"{branch}: {type(exc).__name__}"
                    _release(device)
            if fmt.startswith("ours") and not cell.error:
                try:
                    compare(models[fmt], fmt, data, cell, bf16_out, size)
                except Exception as exc:  # report and go on
                    print(f"ERROR {fmt} {size}² error vs bf16: {type(exc).__name__}: {exc}", flush=True)
        if fmt in ("ours fp8", "ours nf4"):
            del models[fmt]
            _release(device)
    print_table(results, weights, setup, device)
    return results


def compare(
    model: Ideogram4Transformer, fmt: str, data: Inputs, cell: Cell, bf16_out: dict[int, torch.Tensor], size: int
) -> None:
    """Record `fmt`'s conditional output error against ours in bf16 (which `fmt` "ours" provides)."""
    with torch.inference_mode():
        out = data.ours(model, "cond")()
        if fmt == "ours":
            bf16_out[size] = out
            return
        if size not in bf16_out:
            return
        cell.vs_bf16 = relative_error(out, bf16_out[size])
        if cell.note == "scaled_mm":
            use_fp8_matmul(model, False)
            cell.dequantised_vs_bf16 = relative_error(data.ours(model, "cond")(), bf16_out[size])
            use_fp8_matmul(model, True)


def print_table(
    results: dict[tuple[str, int], Cell], weights: dict[str, int], setup: Setup, device: torch.device
) -> None:
    cfg, dtype, (unit, unit_bytes) = setup.cfg, setup.dtype, setup.memory_unit
    settings = PRESETS[PRESET]
    guidance = settings.guidance_schedule()
    steps = {"cond": sum(g != 0.0 for g in guidance), "uncond": sum(g != 1.0 for g in guidance)}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    memory = "measured" if device.type == "cuda" else "activations computed"
    print(
        f"\n{name}, {cfg.num_layers} blocks, hidden {cfg.hidden_size}, caption {setup.caption} tokens, "
        f"compute and plain weights in {str(dtype).removeprefix('torch.')}"
    )
    print(f"D20 = {PRESET}: {steps['cond']} conditional + {steps['uncond']} unconditional forwards; "
          f"peak = both branches resident ({memory})\n")  # fmt: skip
    columns = ["format", "size", "cond ms", "uncond ms", "cond TFLOP/s", "% of peak", "D20 s/image", f"weights {unit}",
               f"peak {unit}", "rel. err vs bf16"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for (fmt, size), cell in results.items():
        label = fmt + (f" ({cell.note})" if cell.note else "")
        if cell.error or len(cell.ms) < 2:
            print(f"| {label} | {size}² | {cell.error or 'incomplete'} | | | | | | | |")
            continue
        n = token_grid(size, size)[0] * token_grid(size, size)[1]
        tflops = forward_flops(cfg, setup.caption, n) / (cell.ms["cond"] / 1000) / 1e12
        peak = device_peak(device, fp8=cell.note == "scaled_mm")
        share = f"{100 * tflops / peak:.0f} %" if peak else "n/a"
        d20 = sum(steps[b] * cell.ms[b] for b in steps) / 1000
        peak_bytes = 2 * weights[fmt] + max(cell.activation.values())
        error = "–" if cell.vs_bf16 is None else f"{cell.vs_bf16:.2e}"
        print(f"| {label} | {size}² | {cell.ms['cond']:.1f} | {cell.ms['uncond']:.1f} | {tflops:.3g} | {share} "
              f"| {d20:.2f} | {weights[fmt] / unit_bytes:.2f} | {peak_bytes / unit_bytes:.2f} | {error} |")  # fmt: skip
    for size in sorted({size for _, size in results}):
        ref, ours = results.get(("diffusers", size)), results.get(("ours", size))
        if ref and ours and len(ref.ms) == len(ours.ms) == 2:
            ratio = sum(steps[b] * ref.ms[b] for b in steps) / sum(steps[b] * ours.ms[b] for b in steps)
            print(f"\n{size}²: D20 speed-up diffusers / ours (same weights) = {ratio:.2f}×")
        fp8 = results.get(("ours fp8", size))
        if fp8 and fp8.vs_bf16 is not None and fp8.dequantised_vs_bf16 is not None:
            print(f"{size}²: fp8 rel. error vs bf16 = {fp8.vs_bf16:.2e} with fp8 matmuls, "
                  f"{fp8.dequantised_vs_bf16:.2e} dequantised (the weights' rounding alone)")  # fmt: skip


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny config on the CPU (seconds; for the test suite)")
    parser.add_argument("--time-box", type=float, default=420.0, help="seconds after which remaining cells skip")
    parser.add_argument("--device", default=None, help="default: cuda (cpu with --tiny)")
    args = parser.parse_args()
    device = torch.device(args.device or ("cpu" if args.tiny else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device is visible; run with --tiny for the CPU check")
    started = time.perf_counter()
    run_benchmark(TINY if args.tiny else FULL, args.time_box, device)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
