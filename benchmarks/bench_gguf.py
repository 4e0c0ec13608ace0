"""GGUF: transformer load time and peak RSS against the file, and dequantisation throughput per type.

    python benchmarks/bench_gguf.py                    # ~1.5 min of CPU time on 2 cores
    python benchmarks/bench_gguf.py --device cuda      # dequantisation on the GPU too
    python benchmarks/bench_gguf.py --skip-loading     # throughput only

Loading: one random Ideogram 4 transformer (hidden 1024, released head and text widths) written as an sd.cpp-style
GGUF per type, and a 36-layer Qwen3-VL text encoder (hidden 512, the full 151k-token vocabulary and its tokenizer
in the metadata) as llama.cpp writes it, both by the test fixture writers (`tests/fixtures_gguf.py`, the `gguf`
package's GGUFWriter); the text encoder load includes building its tokenizer from that vocabulary. Measured
exactly as `bench_loading.py` measures the safetensors formats: each load and each plain read in its own
subprocess on a warm page cache, "+touch" reading one byte of every 4 KiB page of every weight, peak RSS over the
post-import baseline. Targets: load + touch ≤ 1.2 × plain read, peak RSS ≤ 1.3 × file size.

Throughput: one [rows, cols] weight per type, random valid blocks; ours (`ideogram4_core.weights.quant.gguf`,
torch on one CPU thread, as numpy runs, and on all of torch's threads; on CUDA with `--device cuda`) against
`gguf.quants.dequantize` (the llama.cpp project's numpy reference), both producing float32 (bit-identical,
checked here once per type). GB/s of float32 output, best of N.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import torch
from bench_loading import measure, print_load_table, random_model  # puts the checkout and tests/ first

from ideogram4_core.weights.quant.gguf import BLOCKS, PLAIN_TYPES, dequantize

LOAD_TYPES = ("Q8_0", "Q4_K", "Q4_0")
"""The common downloads: the near-lossless type, the popular K-quant (random blocks), the simplest 4-bit."""


def best(run: Callable[[], object], repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    """Fastest wall time of `repeats` calls of `run` (after one warm-up call)."""
    run()
    sync()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - started)
    return min(times)


def loading(blocks: int, text_width: int, repeats: int) -> None:
    from fixtures_gguf import prefer, write_gguf_text_encoder, write_gguf_transformer
    from fixtures_text import tiny_qwen3_vl

    transformer, encoder = random_model(blocks), tiny_qwen3_vl(hidden=text_width)
    files: list[tuple[str, str, str, Callable[[Path], Path]]] = [
        (f"transformer {q}", "load", f"ideogram4-{q}.gguf",
         functools.partial(write_gguf_transformer, model=transformer, qtype_of=prefer(q)))
        for q in LOAD_TYPES
    ]  # fmt: skip
    files.append(("text encoder Q8_0 (+ vocabulary)", "load-text-encoder", "qwen3vl-Q8_0.gguf",
                  functools.partial(write_gguf_text_encoder, model=encoder, qtype_of=prefer("Q8_0"))))  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="ideogram4-bench-gguf-") as tmp:
        for name, kind, filename, write in files:
            path = write(Path(tmp) / filename)
            measure("read", path)  # warm the page cache
            read = min((measure("read", path) for _ in range(repeats)), key=lambda r: r["read_s"])
            load = min((measure(kind, path) for _ in range(repeats)), key=lambda r: r["touch_s"])
            rows.append((name, path.stat().st_size, read, load))
            path.unlink()
            print(f"measured {name}", file=sys.stderr)
    print_load_table("GGUF", rows)
    print()


def _blocks(qtype: str, rows: int, cols: int) -> np.ndarray:
    """Valid uint8 blocks [rows, bytes per row]: floats for F16/BF16, random valid blocks otherwise."""
    from fixtures_gguf import random_blocks

    if qtype in PLAIN_TYPES:
        values = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
        return gguf.quants.quantize(values, gguf.GGMLQuantizationType[qtype]).view(np.uint8).reshape(rows, -1)
    return random_blocks(rows, cols, qtype, seed=0)


def throughput(rows: int, cols: int, repeats: int, device: torch.device) -> None:
    """Ours on one CPU thread (like numpy) and on all of torch's threads, and on CUDA when asked."""
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    threads = torch.get_num_threads()
    out_gb = rows * cols * 4 / 1e9
    print(f"dequantisation of a {rows}×{cols} weight to float32 ({out_gb * 1e3:.0f} MB out), GB/s of output, "
          f"best of {repeats}")  # fmt: skip
    header = f"{'type':<8}{'gguf numpy':>11}{'ours 1 thread':>14}{'× numpy':>8}{f'ours {threads} threads':>16}"
    print(header + (f"{'ours CUDA':>11}" if device.type == "cuda" else ""))
    for qtype in [t for t in BLOCKS if t != "F32"]:
        blocks = _blocks(qtype, rows, cols)
        reference_type = gguf.GGMLQuantizationType[qtype]
        reference = gguf.quants.dequantize(blocks, reference_type)
        packed = torch.from_numpy(blocks)
        assert torch.equal(dequantize(packed, qtype).view(torch.int32), torch.from_numpy(reference).view(torch.int32))
        numpy_s = best(lambda: gguf.quants.dequantize(blocks, reference_type), repeats)  # noqa: B023
        torch.set_num_threads(1)
        single_s = best(lambda: dequantize(packed, qtype), repeats)  # noqa: B023
        torch.set_num_threads(threads)
        all_s = best(lambda: dequantize(packed, qtype), repeats)  # noqa: B023
        line = f"{qtype:<8}{out_gb / numpy_s:>11.2f}{out_gb / single_s:>14.2f}{numpy_s / single_s:>8.2f}"
        line += f"{out_gb / all_s:>16.2f}"
        if device.type == "cuda":
            on_gpu = packed.to(device)
            line += f"{out_gb / best(lambda: dequantize(on_gpu, qtype), repeats, sync):>11.1f}"  # noqa: B023
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=6, help="transformer blocks of the loading model (6)")
    parser.add_argument("--text-width", type=int, default=512, help="hidden size of the 36-layer text encoder (512)")
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--cols", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each measurement")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--skip-loading", action="store_true")
    args = parser.parse_args()
    if not args.skip_loading:
        loading(args.blocks, args.text_width, min(args.repeats, 2))
    throughput(args.rows, args.cols, args.repeats, torch.device(args.device))


if __name__ == "__main__":
    main()
