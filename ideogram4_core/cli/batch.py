"""``python -m ideogram4_core batch``: render a JSONL/CSV/folder of jobs into a folder with a manifest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch.jobs import JobDefaults, read_jobs
from ..batch.ray_runner import RayBackend, RayOptions, require_ray
from ..batch.runner import local_backend, run_batch
from ..batch.worker import WorkerSpec
from ..errors import Ideogram4Error
from ..sampling.schedule import OVERRIDABLE
from .generate import add_device_options, add_exact_fp8_option, add_model_options, add_settings_options, model_paths

MAX_FAILURE_LINES = 20


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``batch`` sub-command."""
    batch = subparsers.add_parser("batch", help="render many jobs (JSONL, CSV or a caption folder) with a manifest")
    batch.add_argument("jobs", type=Path, help="a .jsonl or .csv file of jobs, or a folder of caption .json files")
    batch.add_argument("--output", type=Path, required=True, help="folder for the PNGs and manifest.jsonl")
    add_model_options(batch)
    defaults = batch.add_argument_group("defaults for jobs that leave a field out")
    defaults.add_argument("--width", type=int)
    defaults.add_argument("--height", type=int)
    defaults.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    defaults.add_argument("--variations", type=int, default=1, help="images per job: seeds seed … seed+N−1")
    add_settings_options(defaults)
    run = batch.add_argument_group("running")
    run.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on a Ray cluster (ADDRESS like auto or ray://host:10001; none: a local cluster)",
    )
    run.add_argument("--workers", type=int, help="model replicas with --ray (default: one per GPU, else one)")
    run.add_argument("--retries", type=int, default=2, help="times a dead worker's images are retried (default 2)")
    run.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="images per sampler call (default 1: identical to generate; more is faster on GPUs)",
    )
    run.add_argument("--chunk-size", type=int, default=32, help="images a worker takes at a time (default 32)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device_options(run)
    add_exact_fp8_option(run)
    batch.set_defaults(run=_run_batch)  # fmt: skip
    return batch


def _run_batch(args: argparse.Namespace) -> int:
    for flag, value in (("--batch-size", args.batch_size), ("--chunk-size", args.chunk_size),
                        ("--variations", args.variations), ("--workers", args.workers or 1)):  # fmt: skip
        if value < 1:
            raise Ideogram4Error(f"{flag} must be at least 1 (got {value}).")
    if args.retries < 0:
        raise Ideogram4Error(f"--retries must be 0 or more (got {args.retries}).")
    if args.ray is None and (args.workers or 1) > 1:
        raise Ideogram4Error("--workers needs --ray; add --ray to run several workers (a local cluster by default).")
    backend = local_backend
    if args.ray is not None:
        require_ray()
        backend = RayBackend(RayOptions(address=args.ray or None, workers=args.workers, retries=args.retries))
    overrides = {name: getattr(args, name) for name in OVERRIDABLE if getattr(args, name) is not None}
    defaults = JobDefaults(args.width, args.height, args.seed, args.variations, args.preset, overrides)
    job_set = read_jobs(args.jobs, defaults)
    spec = WorkerSpec(model_paths(args), args.device, args.dtype, args.batch_size, exact_fp8=args.exact_fp8)
    summary = run_batch(job_set, spec, args.output, backend=backend, chunk_size=args.chunk_size,
                        progress=not args.no_progress, report=_print)  # fmt: skip
    for line in summary.failures[:MAX_FAILURE_LINES]:
        _print(f"failed: {line}")
    if len(summary.failures) > MAX_FAILURE_LINES:
        _print(f"… and {len(summary.failures) - MAX_FAILURE_LINES} more failures (see the manifest)")
    if isinstance(backend, RayBackend) and backend.retries_used:
        _print(f"{backend.retries_used} chunks retried after a worker died")
    _print(f"{summary.describe()}; manifest {args.output / 'manifest.jsonl'}")
    if summary.interrupted:
        _print("interrupted: the manifest holds every finished image; run the same command again to continue")
        return 130
    return 1 if summary.failed or summary.input_problems else 0


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
