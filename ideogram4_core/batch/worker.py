"""One batch worker: loads each model once, then renders lists of images in stages.

For a list of images: every caption not yet cached is encoded (encodings cached by caption hash), images of
the same size and settings are sampled together (`batch_size` per sampler call, default 1), then each latent is
decoded and encoded as PNG. With `batch_size` 1 an image is pixel-identical to `generate --seed S` (the same
noise, features and decoder calls); larger sampler batches are faster on GPUs but change rounding slightly.
The worker returns PNG bytes and never writes files: the runner owns the output folder and the manifest.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import torch

from ..devices import resolve_device, resolve_dtype
from ..errors import Ideogram4Error
from ..models.text_encoder import TextEncoder
from ..models.transformer import Ideogram4Transformer
from ..models.vae import Flux2VAE
from ..pipeline import Ideogram4Pipeline, ModelPaths, decode_images
from ..png_metadata import png_bytes, png_info
from ..sampling.latents import token_grid, tokens_to_vae
from ..sampling.sampler import initial_noise, sample
from .jobs import Job

T = TypeVar("T")

# Fields a job may carry that this engine cannot render yet, and what to tell the user.
_NOT_SUPPORTED = {
    "loras": "LoRAs",
    "unconditional_loras": "LoRAs",
    "unconditional_from_conditional": "--unconditional-from-conditional",
    "init_image": "init images",
    "denoise": "init images",
    "mask": "masks",
    "edit_elements": "element editing",
    "edit_margin": "element editing",
}


@dataclass(frozen=True)
class ImageTask:
    """One image of a job: the job and one of its seeds."""

    job: Job
    seed: int

    @property
    def key(self) -> str:
        return self.job.render_key(self.seed)

    @property
    def file(self) -> str:
        return f"{self.job.id}_{self.seed}.png"


@dataclass
class Outcome:
    """A rendered image (PNG bytes) or the reason it failed, with per-stage seconds."""

    task: ImageTask
    worker: str
    png: bytes | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    encode_cached: bool = False


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to start (plain data, so Ray can ship it to other machines)."""

    paths: ModelPaths
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 1
    cache_bytes: int = 4 << 30


class FeatureCache:
    """Least-recently-used text features by caption hash, bounded in bytes (0 disables it)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()

    def get(self, caption_sha256: str) -> torch.Tensor | None:
        if caption_sha256 in self._entries:
            self._entries.move_to_end(caption_sha256)
        return self._entries.get(caption_sha256)

    def put(self, caption_sha256: str, features: torch.Tensor) -> None:
        self._entries[caption_sha256] = features
        while self._entries and sum(f.nbytes for f in self._entries.values()) > self.max_bytes:
            self._entries.popitem(last=False)


class Worker:
    """Holds the text encoder, transformers and VAE (each loaded once, on first use) and renders image lists."""

    def __init__(self, spec: WorkerSpec) -> None:
        device = resolve_device(spec.device)
        self.pipeline = Ideogram4Pipeline(spec.paths, device=device, dtype=resolve_dtype(spec.dtype, device))
        self.batch_size = spec.batch_size
        self.cache = FeatureCache(spec.cache_bytes)
        self.name = f"{socket.gethostname()}:{os.getpid()} {device}"
        self.load_seconds: dict[str, float] = {}
        self._encoder: TextEncoder | None = None
        self._cond: Ideogram4Transformer | None = None
        self._uncond: Ideogram4Transformer | None = None
        self._vae: Flux2VAE | None = None

    def render(self, tasks: Sequence[ImageTask]) -> Iterator[Outcome]:
        """Encode, sample and decode `tasks`; yields one Outcome per task as each image is finished."""
        outcomes = {id(t): Outcome(t, self.name) for t in tasks}
        ready = []
        for task in tasks:
            problem = task.job.error or _unsupported(task.job)
            if problem:
                outcomes[id(task)].error = problem
                yield outcomes[id(task)]
            else:
                ready.append(task)
        features = yield from self._encode_all(ready, outcomes)
        latents = yield from self._sample_all(
            [t for t in ready if t.job.caption_sha256 in features], features, outcomes
        )
        if not latents:
            return
        vae = self._decoder()
        for task, latent in latents:
            outcome = outcomes[id(task)]
            began = time.perf_counter()
            (image,) = decode_images(vae, latent.unsqueeze(0))
            outcome.timings["decode"] = time.perf_counter() - began
            began = time.perf_counter()
            info = png_info(task.job.caption, task.seed, task.job.settings, ideogram4_job=_job_text(task))
            outcome.png = png_bytes(image, info)
            outcome.timings["png"] = time.perf_counter() - began
            yield outcome

    def _encode_all(self, tasks: list[ImageTask], outcomes: dict[int, Outcome]) -> Iterator[Outcome]:
        """Features per caption hash, each caption encoded once; tasks whose caption fails are yielded as failed."""
        features: dict[str, torch.Tensor] = {}
        errors: dict[str, str] = {}
        for task in tasks:
            sha, outcome = task.job.caption_sha256, outcomes[id(task)]
            if sha not in features and sha not in errors and (cached := self.cache.get(sha)) is not None:
                features[sha] = cached
            if sha in features:
                outcome.encode_cached, outcome.timings["encode"] = True, 0.0
                continue
            if sha not in errors:
                began = time.perf_counter()
                try:
                    features[sha] = self._text_encoder().encode([task.job.caption])[0]
                    outcome.timings["encode"] = time.perf_counter() - began
                    self.cache.put(sha, features[sha])
                    continue
                except Ideogram4Error as exc:
                    errors[sha] = str(exc)
            outcome.error = errors[sha]
            yield outcome
        return features

    def _sample_all(
        self, tasks: list[ImageTask], features: dict[str, torch.Tensor], outcomes: dict[int, Outcome]
    ) -> Iterator[Outcome]:
        """(task, latent) pairs for every task sampled; a group whose sampling fails is yielded as failed."""
        groups: dict[tuple, list[ImageTask]] = {}
        for task in tasks:
            job = task.job
            groups.setdefault((job.width, job.height, job.settings), []).append(task)
        latents: list[tuple[ImageTask, torch.Tensor]] = []
        for (width, height, settings), group in groups.items():
            grid = token_grid(width, height)
            for start in range(0, len(group), self.batch_size):
                batch = group[start : start + self.batch_size]
                began = time.perf_counter()
                try:
                    needs_uncond = self.pipeline.check_unconditional(settings)
                    cond, uncond = self._transformers(needs_uncond)
                    text = [features[t.job.caption_sha256] for t in batch]
                    noise = torch.cat([initial_noise(t.seed, 1, grid[0] * grid[1]) for t in batch])
                    tokens = sample(cond, uncond, text, noise, grid, (width, height), settings).cpu()
                except (Ideogram4Error, torch.OutOfMemoryError) as exc:
                    message = str(exc) if isinstance(exc, Ideogram4Error) else "out of memory while sampling"
                    for task in batch:
                        outcomes[id(task)].error = message
                        yield outcomes[id(task)]
                    continue
                seconds = (time.perf_counter() - began) / len(batch)
                for task, latent in zip(batch, tokens_to_vae(tokens, grid), strict=True):
                    outcomes[id(task)].timings["sample"] = seconds
                    latents.append((task, latent))
        return latents

    def _text_encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = self._load("text_encoder", self.pipeline.load_text_encoder)
        return self._encoder

    def _transformers(self, needs_uncond: bool) -> tuple[Ideogram4Transformer, Ideogram4Transformer | None]:
        """The conditional transformer, and the unconditional one once a group first needs it."""
        if self._cond is None:
            self._cond = self._load("transformer", lambda: self.pipeline.load_branch("cond"))
        if needs_uncond and self._uncond is None:
            self._uncond = self._load("unconditional_transformer", lambda: self.pipeline.load_branch("uncond"))
        return self._cond, self._uncond if needs_uncond else None

    def _decoder(self) -> Flux2VAE:
        if self._vae is None:
            self._vae = self._load("vae", self.pipeline.load_vae)
        return self._vae

    def _load(self, name: str, load: Callable[[], T]) -> T:
        began = time.perf_counter()
        model = load()
        self.load_seconds[name] = time.perf_counter() - began
        return model


def _unsupported(job: Job) -> str | None:
    names = sorted({_NOT_SUPPORTED[name] for name in job.extras()})
    if not names:
        return None
    return f"{' and '.join(names)} in batch jobs are not supported by this engine yet; remove those fields."


def _job_text(task: ImageTask) -> str:
    """The job as a PNG text chunk: id, seed, size, preset and resolved settings."""
    job = task.job
    facts = {"id": job.id, "seed": task.seed, "width": job.width, "height": job.height, "preset": job.preset}
    return json.dumps({**facts, "settings": asdict(job.settings)}, ensure_ascii=False)
