"""Run a batch: plan the images, skip what the manifest holds, render the rest, write images and rows.

The runner owns the output folder: it writes every PNG atomically and then its manifest row, so it works
the same whether the images come from a worker in this process (`local_backend`) or from Ray actors
(`ray_runner.ray_backend`). A backend gets the chunks of images to render and a `deliver` callback.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import Ideogram4Error
from ..sampling.sizes import check_size
from ..weights.transformer_weights import read_transformer_config
from .fingerprint import component_sha256, model_fingerprints
from .jobs import Job, JobSet
from .manifest import Manifest, deferred_interrupt, prepare_output, sha256_hex, write_atomic
from .progress import BatchProgress
from .worker import ImageTask, Outcome, Worker, WorkerSpec, group_key

Deliver = Callable[[Outcome], None]
Backend = Callable[[WorkerSpec, list[list[ImageTask]], Deliver], None]


def local_backend(spec: WorkerSpec, chunks: list[list[ImageTask]], deliver: Deliver) -> None:
    """One worker in this process: each model is loaded once and kept for every chunk."""
    worker = Worker(spec)
    for chunk in chunks:
        for outcome in worker.render(chunk):
            deliver(outcome)


@dataclass
class BatchSummary:
    images: int = 0
    rendered: int = 0
    already_done: int = 0
    duplicates: int = 0
    failed: int = 0
    input_problems: int = 0
    stale_temp_files: int = 0
    retries: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    failures: list[str] = field(default_factory=list)

    @property
    def images_per_minute(self) -> float:
        return 60.0 * self.rendered / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        parts = [f"{self.rendered} rendered", f"{self.already_done} already done"]
        parts += [f"{n} {label}" for n, label in ((self.duplicates, "identical to another job"),
                  (self.failed, "failed"), (self.input_problems, "input problems")) if n]  # fmt: skip
        rate = f" ({self.images_per_minute:.1f} img/min)" if self.rendered else ""
        return f"{self.images} images: {', '.join(parts)} in {self.seconds:.1f} s{rate}"


def plan_chunks(tasks: list[ImageTask], chunk_size: int) -> list[list[ImageTask]]:
    """Chunks of at most `chunk_size` images, ordered so that a chunk shares sizes, settings, LoRA sets, edits
    and captions (so a worker reads each LoRA set once while it lasts)."""

    def order(task: ImageTask) -> tuple:
        return repr(group_key(task.job)), task.job.caption_sha256

    ordered = sorted(tasks, key=order)  # stable: input order within equal keys
    return [ordered[i : i + chunk_size] for i in range(0, len(ordered), chunk_size)]


class _Run:
    """The state of one run: manifest, rows to write, identical images waiting for their first copy."""

    def __init__(self, output: Path, manifest: Manifest, models: dict[str, str], summary: BatchSummary) -> None:
        self.output, self.manifest, self.models, self.summary = output, manifest, models, summary
        self.waiting: dict[str, list[ImageTask]] = {}  # render key → identical images of other jobs
        self.lora_hashes: dict[Path, str] = {}
        self.progress: BatchProgress | None = None

    def row(self, task: ImageTask, outcome: Outcome | None, **fields: Any) -> dict[str, Any]:
        job = task.job
        row = {"id": job.id, "seed": task.seed, **fields, "key": task.key, "caption_sha256": job.caption_sha256,
               "width": job.width, "height": job.height, "preset": job.preset,
               "settings": asdict(job.settings) if job.settings else None, **job.extras()}  # fmt: skip
        if outcome is not None:
            row |= {"timings": {k: round(v, 4) for k, v in outcome.timings.items()}, "worker": outcome.worker}
            row |= {"encode_cached": outcome.encode_cached}
        loras = self.lora_fingerprints(job)
        row |= {
            "models": {**self.models, **loras},
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return row

    def lora_fingerprints(self, job: Job) -> dict[str, str]:
        """Header hashes of the job's LoRA files that exist (`lora:<path>`), each file hashed once per run."""
        choice = job.lora_choice()
        out = {}
        for request in (*choice.cond, *choice.uncond):
            if request.path not in self.lora_hashes and request.path.is_file():
                try:
                    self.lora_hashes[request.path] = component_sha256(request.path)
                except (OSError, struct.error):  # unreadable: its job fails with the loader's message
                    continue
            if request.path in self.lora_hashes:
                out[f"lora:{request.path}"] = self.lora_hashes[request.path]
        return out

    def fail(self, task: ImageTask, error: str, outcome: Outcome | None = None) -> None:
        self.manifest.append(self.row(task, outcome, status="failed", file=None, sha256=None, error=error))
        self.summary.failed += 1
        self.summary.failures.append(f"{task.job.id} seed {task.seed}: {error}")

    def deliver(self, outcome: Outcome) -> None:
        """Record a finished image: its file and its row (and its twins' rows) as one step Ctrl-C cannot split."""
        with deferred_interrupt():
            self._record(outcome)
        if self.progress is not None:
            self.progress.advance(outcome.png is not None)

    def _record(self, outcome: Outcome) -> None:
        task = outcome.task
        if outcome.png is None:
            self.fail(task, outcome.error or "unknown error", outcome)
            for twin in self.waiting.pop(task.key, []):
                self.fail(twin, outcome.error or "unknown error", outcome)
            return
        began = time.perf_counter()
        write_atomic(self.output / task.file, outcome.png)
        outcome.timings["write"] = time.perf_counter() - began
        done = self.row(task, outcome, status="done", file=task.file, sha256=sha256_hex(outcome.png))
        self.manifest.append(done)
        self.summary.rendered += 1
        for twin in self.waiting.pop(task.key, []):
            self.copy_of(twin, done)
            self.progress.advance(outcome.png is not None)

    def copy_of(self, task: ImageTask, done: dict[str, Any]) -> None:
        """An image identical to one already rendered: a row naming that file, nothing rendered again."""
        row = {**done, "id": task.job.id, "seed": task.seed, "duplicate_of": done.get("duplicate_of", done["id"])}
        self.manifest.append(row)
        self.summary.duplicates += 1


def run_batch(
    job_set: JobSet,
    spec: WorkerSpec,
    output: Path,
    *,
    backend: Backend = local_backend,
    chunk_size: int = 32,
    progress: bool = True,
    report: Callable[[str], None] = lambda line: None,
) -> BatchSummary:
    """Render every image of `job_set` not already in `output`'s manifest; Ctrl-C leaves it consistent."""
    began = time.perf_counter()
    summary = BatchSummary(input_problems=len(job_set.problems))
    for problem in job_set.problems:
        report(problem.line())
    summary.stale_temp_files = prepare_output(output)
    models = model_fingerprints(spec.paths)
    full_size = read_transformer_config(spec.paths.transformer).is_full_size
    manifest = Manifest(output)
    run = _Run(output, manifest, models, summary)
    tasks = [ImageTask(job, seed) for job in job_set.jobs for seed in job.seeds]
    summary.images = len(tasks)
    try:
        pending = _plan(run, tasks, full_size)
        report(f"{len(tasks)} images in {len(job_set.jobs)} jobs: {len(pending)} to render")
        run.progress = BatchProgress(len(pending), enabled=progress)
        try:
            backend(spec, plan_chunks(pending, chunk_size), run.deliver)
        finally:
            run.progress.close()
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        manifest.compact((t.job.id, t.seed) for t in tasks)
        manifest.close()
        summary.seconds = time.perf_counter() - began
    return summary


def _plan(run: _Run, tasks: Iterable[ImageTask], full_size: bool) -> list[ImageTask]:
    """The images to render; the rest are recorded now (failed before rendering, identical, already done)."""
    rendered_before = run.manifest.done_by_key()
    pending: list[ImageTask] = []
    first: dict[str, ImageTask] = {}
    for task in tasks:
        error = task.job.error or _size_error(task.job, full_size)
        if error:
            run.fail(task, error)
        elif run.manifest.done(task.job.id, task.seed, task.key):
            run.summary.already_done += 1
        elif task.key in rendered_before:
            run.copy_of(task, rendered_before[task.key])
        elif task.key in first:
            run.waiting.setdefault(task.key, []).append(task)
        else:
            first[task.key] = task
            pending.append(task)
    return pending


def _size_error(job: Job, full_size: bool) -> str | None:
    try:
        check_size(job.width, job.height, full_size=full_size)
    except Ideogram4Error as exc:
        return str(exc)
    return None
