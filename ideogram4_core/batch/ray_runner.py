"""Render a batch on a Ray cluster: one `RenderActor` (one model replica) per GPU, or per CPU slot.

The driver keeps the manifest and writes every file (actors return PNG bytes), so the output folder only has
to exist where the command runs; model paths must be readable on every node. A chunk whose actor dies
(process killed, node lost) is sent to another actor, and a replacement actor is started, up to `retries`
times per chunk; after that its images are recorded as failed.
"""

from __future__ import annotations

import importlib.util
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Ideogram4Error
from .runner import Deliver
from .worker import ImageTask, Outcome, Worker, WorkerSpec

INSTALL_HINT = 'pip install -e ".[ray]" (or pip install "ray>=2.9")'


def require_ray() -> Any:
    """The `ray` module, or one clear error saying how to install it."""
    if importlib.util.find_spec("ray") is None:
        raise Ideogram4Error(f"--ray needs Ray, which is not installed. Install it with {INSTALL_HINT}.")
    import ray

    return ray


class RenderActor:
    """A Ray actor holding one `Worker` (its models load once, on the first chunk)."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.worker = Worker(spec)

    def render(self, tasks: list[ImageTask]) -> list[Outcome]:
        return list(self.worker.render(tasks))


@dataclass
class RayOptions:
    address: str | None = None  # None: start a local cluster (unless Ray is already initialised)
    workers: int | None = None  # default: one per GPU of the cluster, else one
    retries: int = 2
    actor_name_prefix: str = "ideogram4-batch"


class RayBackend:
    """A runner backend (see `runner.Backend`) that spreads chunks over Ray actors."""

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self.retries_used = 0

    def __call__(self, spec: WorkerSpec, chunks: list[list[ImageTask]], deliver: Deliver) -> None:
        if not chunks:
            return
        ray = require_ray()
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.options.address, runtime_env=runtime_env(), log_to_driver=False)
        actors: list[Any] = []
        try:
            actor_class, count = self._actor_class(ray, spec)
            for _ in range(min(count, len(chunks))):
                actors.append(self._start(actor_class, spec, len(actors)))
            self._dispatch(ray, actor_class, spec, actors, chunks, deliver)
        finally:
            for actor in actors:
                ray.kill(actor)
            if started_here:
                ray.shutdown()

    def _actor_class(self, ray: Any, spec: WorkerSpec) -> tuple[Any, int]:
        """The remote actor class with its resources (1 GPU each when the cluster has GPUs), and how many."""
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if spec.device != "cpu" else 0
        count = self.options.workers or max(gpus, 1)
        if gpus:
            return ray.remote(num_gpus=1)(RenderActor), count
        cpus = max(1, int(resources.get("CPU", 1)) // count)
        return ray.remote(num_cpus=cpus)(RenderActor), count

    def _start(self, actor_class: Any, spec: WorkerSpec, number: int) -> Any:
        name = f"{self.options.actor_name_prefix}-{number}"
        return actor_class.options(name=name, max_restarts=0).remote(spec)

    def _dispatch(
        self, ray: Any, actor_class: Any, spec: WorkerSpec, actors: list[Any], chunks: list[list[ImageTask]],
        deliver: Deliver,
    ) -> None:  # fmt: skip
        queue = deque((chunk, 0) for chunk in chunks)
        idle = list(actors)
        running: dict[Any, tuple[Any, list[ImageTask], int]] = {}
        started = len(actors)
        while queue or running:
            while queue and idle:
                chunk, attempts = queue.popleft()
                actor = idle.pop()
                running[actor.render.remote(chunk)] = (actor, chunk, attempts)
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor, chunk, attempts = running.pop(ref)
            try:
                outcomes = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.ActorDiedError) as exc:
                actors.remove(actor)
                if attempts >= self.options.retries:
                    for task in chunk:
                        deliver(Outcome(task, "ray", error=f"its worker died {attempts + 1} times ({_reason(exc)})"))
                else:
                    self.retries_used += 1
                    queue.append((chunk, attempts + 1))
                replacement = self._start(actor_class, spec, started)
                started += 1
                actors.append(replacement)
                idle.append(replacement)
                continue
            except ray.exceptions.RayTaskError as exc:  # an unexpected error inside the worker: fail the chunk
                outcomes = [Outcome(task, "ray", error=f"worker error: {_reason(exc)}") for task in chunk]
            idle.append(actor)
            for outcome in outcomes:
                deliver(outcome)


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def runtime_env() -> dict[str, Any]:
    """Ship this engine's code to every node (each node still needs torch and the other dependencies)."""
    package = Path(__file__).resolve().parents[1]
    return {"py_modules": [str(package)]}
