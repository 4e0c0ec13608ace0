"""Transformer load time and peak memory per weight format, against a plain read of the same file.

    python benchmarks/bench_loading.py                 # ~450 MB random DiT (12 blocks, hidden 1024)
    python benchmarks/bench_loading.py --blocks 4      # smaller and quicker

Writes one random mid-size Ideogram 4 transformer in every format this checkout can produce: bf16 (original
names, one file as ComfyUI ships it, and a diffusers folder), plus the quantised formats whose test fixture
writers are importable (`tests/fixtures_quant.py`, `tests/fixtures_nf4.py`; they need comfy-kitchen and
bitsandbytes). Each load and each plain read (`Path.read_bytes`) runs in its own subprocess on a warm page cache.
"load s" is `load_transformer` returning; "+touch s" also reads one byte of every 4 KiB page of every weight, so
the comparison with the plain read moves the same bytes. Peak RSS is the subprocess's high-water mark minus its
resident size after imports (including `torch._dynamo`, which the first meta-device build imports: a fixed
one-off cost per process, not a per-byte one). Targets: peak RSS ≤ 1.3 × file size, load + touch ≤ 1.2 × plain read.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

RSS_TARGET, TIME_TARGET = 1.3, 1.2


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def worker(kind: str, path: Path) -> dict:
    """Runs in the subprocess: time one plain read or one load (+ touch); memory over the post-import baseline."""
    if kind != "read":
        import torch._dynamo  # imported on first use by building on meta: a one-off ~2 s, ~0.1 GB

        from ideogram4_core.models.text_encoder import TextEncoder
        from ideogram4_core.weights.transformer_weights import load_transformer
    baseline = _status_kib("VmRSS")
    started = time.perf_counter()
    if kind == "read":
        files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
        size = sum(len(f.read_bytes()) for f in files)
        return {"read_s": time.perf_counter() - started, "peak": _status_kib("VmHWM") - baseline, "size": size}
    if kind == "load-text-encoder":  # with its tokenizer (a GGUF's own vocabulary when it has one)
        model = TextEncoder.load(path, device="cpu", dtype=torch.bfloat16).model
    else:
        model = load_transformer(path, device="cpu", dtype=torch.bfloat16)
    loaded = time.perf_counter() - started
    for tensor in [*model.parameters(), *model.buffers()]:
        if tensor.numel():
            tensor.detach().reshape(-1).contiguous().view(torch.uint8)[::4096].sum()
    return {"load_s": loaded, "touch_s": time.perf_counter() - started, "peak": _status_kib("VmHWM") - baseline}


def measure(kind: str, path: Path) -> dict:
    """`worker(kind, path)` in a fresh subprocess: kind "read", "load" (a transformer) or "load-text-encoder"."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{kind} {path} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def random_model(blocks: int):
    """A diffusers Ideogram4Transformer2DModel: released text width and head size, hidden 1024, random weights."""
    from diffusers import Ideogram4Transformer2DModel

    torch.manual_seed(0)
    model = Ideogram4Transformer2DModel(
        num_layers=blocks, attention_head_dim=256, num_attention_heads=4, intermediate_size=2816, adaln_dim=256
    )
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    return model.eval()


def writers() -> dict[str, Callable[[Path, torch.nn.Module], Path]]:
    """Format name → write(folder, model) → path to load; quantised ones only where their fixtures import."""
    from ideogram4_core.weights.transformer_weights import to_original_names

    def bf16_file(folder: Path, model: torch.nn.Module) -> Path:
        from safetensors.torch import save_file

        state = to_original_names({k: v.to(torch.bfloat16) for k, v in model.state_dict().items()})
        save_file({k: v.contiguous() for k, v in state.items()}, folder / "ideogram4_bf16.safetensors")
        return folder / "ideogram4_bf16.safetensors"

    def bf16_folder(folder: Path, model: torch.nn.Module) -> Path:
        model.to(torch.bfloat16).save_pretrained(folder / "transformer")
        model.float()
        return folder / "transformer"

    found = {"bf16 (one file)": bf16_file, "bf16 (diffusers folder)": bf16_folder}
    try:
        import fixtures_quant as quant

        found["official-fp8"] = lambda d, m: quant.write_official_fp8_transformer(_mkdir(d / "fp8"), m, fused=True)
        import comfy_kitchen  # noqa: F401 - the ComfyUI quantiser the fixtures use

        found["comfy-fp8-scaled"] = lambda d, m: quant.write_comfy_transformer(d / "comfy_fp8.safetensors", m)
        found["comfy-nvfp4-mixed"] = lambda d, m: quant.write_comfy_transformer(d / "nvfp4.safetensors", m, nvfp4=True)
    except ImportError:
        pass
    try:
        import fixtures_nf4

        def nf4(folder: Path, model: torch.nn.Module) -> Path:
            fixtures_nf4.write_nf4_transformer(_mkdir(folder / "nf4"), model, fused=True)
            return folder / "nf4"

        found["official-nf4"] = nf4
    except ImportError:
        pass
    return found


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in (path.glob("*.safetensors") if path.is_dir() else [path]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2, help="best of N for each measurement")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return
    with tempfile.TemporaryDirectory(prefix="ideogram4-bench-loading-") as tmp:
        model = random_model(args.blocks)
        rows = []
        for name, write in writers().items():
            path = write(Path(tmp), model)
            measure("read", path)  # warm the page cache
            read = min((measure("read", path) for _ in range(args.repeats)), key=lambda r: r["read_s"])
            load = min((measure("load", path) for _ in range(args.repeats)), key=lambda r: r["touch_s"])
            rows.append((name, _size(path), read, load))
            print(f"measured {name}", file=sys.stderr)
    print_load_table("format", rows)


def print_load_table(title: str, rows: list[tuple[str, int, dict, dict]]) -> None:
    """One line per (name, file bytes, fastest read, fastest load): times, load/read ratio, peak RSS / file size."""
    width = max(24, len(title), *(len(name) + 2 for name, *_ in rows))
    print(f"{title:<{width}}{'file MB':>9}{'load s':>8}{'+touch s':>9}{'read s':>8}{'ratio':>7}{'RSS/file':>9}")
    for name, size, read, load in rows:
        ratio, rss = load["touch_s"] / read["read_s"], load["peak"] / size
        flags = ("" if ratio <= TIME_TARGET else " time>target") + ("" if rss <= RSS_TARGET else " rss>target")
        print(
            f"{name:<{width}}{size / 1e6:>9.0f}{load['load_s']:>8.2f}{load['touch_s']:>9.2f}{read['read_s']:>8.2f}"
            f"{ratio:>7.2f}{rss:>9.2f}{flags}"
        )
    print(f"targets: load+touch ≤ {TIME_TARGET} × plain read, peak RSS ≤ {RSS_TARGET} × file size")


if __name__ == "__main__":
    main()
