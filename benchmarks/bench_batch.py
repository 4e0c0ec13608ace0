"""Batch throughput: images/min with 1 and 2 Ray workers, and the saving from encoding each caption once.

    python benchmarks/bench_batch.py            # small CPU config, 2–3 minutes on 2 busy cores

The model is random, in the official layout (written with diffusers' classes, as `bench_pipeline.py` does): a
2-block DiT, the 36-layer Qwen3-VL text encoder at hidden size 64 with the full vocabulary, a small VAE; 128²,
2 steps + 2 polish steps, ~200-token captions. The same jobs (2 captions × 3 seeds) run four ways:

- encode once: one local worker, all captions encoded first (the batch command's way);
- encode per job: one local worker that encodes the caption again for every image (no feature cache, one image
  per worker call), as a loop over `generate` calls with the model kept loaded would;
- Ray with 1 worker and with 2 workers on a local cluster (each run starts Ray, so its start-up is counted).

After one warm-up run, prints images/min end to end (model loading included), the seconds spent encoding text
(model loading excluded) and the ratios.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

from bench_pipeline import poster_caption, write_model  # noqa: E402

from ideogram4_core.batch.jobs import read_jobs  # noqa: E402
from ideogram4_core.batch.ray_runner import RayBackend, RayOptions  # noqa: E402
from ideogram4_core.batch.runner import BatchSummary, local_backend, run_batch  # noqa: E402
from ideogram4_core.batch.worker import WorkerSpec  # noqa: E402
from ideogram4_core.pipeline import ModelPaths  # noqa: E402

CONFIG = {
    "dit": dict(num_layers=2, attention_head_dim=256, num_attention_heads=2, intermediate_size=1024, adaln_dim=64),
    "text": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, head_dim=16),
    "vae": dict(block_out_channels=(32, 32, 32, 32), layers_per_block=1, norm_num_groups=16),
    "dtype": "fp32",
}
SIZE, STEPS, CAPTIONS, SEEDS, TOKENS = 128, 2, 2, 3, 200


def write_jobs(folder: Path) -> Path:
    jobs = folder / "jobs.jsonl"
    captions = [poster_caption(TOKENS).replace("SUMMER FESTIVAL", f"FESTIVAL {i}") for i in range(CAPTIONS)]
    rows = [{"id": f"c{i}", "caption": c, "width": SIZE, "height": SIZE, "seeds": list(range(SEEDS)), "steps": STEPS}
            for i, c in enumerate(captions)]  # fmt: skip
    jobs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return jobs


def run(jobs: Path, model: Path, out: Path, *, cache: bool = True, backend=local_backend, chunk: int = 32):
    spec = WorkerSpec(ModelPaths.from_folder(model), device="cpu", cache_bytes=(4 << 30) if cache else 0)
    summary = run_batch(read_jobs(jobs), spec, out, backend=backend, chunk_size=chunk, progress=False)
    assert summary.rendered == CAPTIONS * SEEDS and not summary.failed, summary.failures
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    encode = sum(row["timings"]["encode"] for row in rows)
    return summary, encode


def report(name: str, summary: BatchSummary, encode: float) -> None:
    print(f"  {name:<16} {summary.images_per_minute:6.1f} img/min ({summary.seconds:5.1f} s, "
          f"text encoding {encode:5.2f} s in all)", flush=True)  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ideogram4-bench-batch-") as tmp:
        folder = Path(tmp)
        model = folder / "model"
        write_model(model, CONFIG)
        jobs = write_jobs(folder)
        print(f"{CAPTIONS} captions × {SEEDS} seeds at {SIZE}², {STEPS} steps + 2 polish, CPU fp32", flush=True)
        run(jobs, model, folder / "warm-up")  # first reads of the files and torch's first-call costs
        once = run(jobs, model, folder / "once")
        report("encode once", *once)
        per_job = run(jobs, model, folder / "per_job", cache=False, chunk=1)
        report("encode per job", *per_job)
        one = run(jobs, model, folder / "ray1", backend=RayBackend(RayOptions(workers=1)), chunk=1)
        report("Ray, 1 worker", *one)
        two = run(jobs, model, folder / "ray2", backend=RayBackend(RayOptions(workers=2)), chunk=1)
        report("Ray, 2 workers", *two)
        print(f"encode once vs per job: {per_job[0].seconds / once[0].seconds:.2f}× faster "
              f"(text encoding {per_job[1] / max(once[1], 1e-9):.1f}× less)")  # fmt: skip
        print(f"Ray 2 workers vs 1: {two[0].images_per_minute / one[0].images_per_minute:.2f}× images/min")


if __name__ == "__main__":
    main()
