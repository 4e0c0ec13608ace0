"""One batch worker: loads each model once, then renders lists of images in stages.

For a list of images: every caption not yet cached is encoded (encodings cached by caption hash), images of
the same size, settings, LoRAs and edit are sampled together (`batch_size` per sampler call, default 1), then
each latent is decoded and encoded as PNG. LoRAs are side branches over the base transformers, which load once
and are never modified; a LoRA set is read once and kept while consecutive groups use it. An edit's picture is
read and encoded once per group. With `batch_size` 1 an image is pixel-identical to `generate --seed S` with
the job's flags (the same noise, features, LoRA branches, start latent and decoder calls, via the pipeline's
own helpers); larger sampler batches are faster on GPUs but change rounding slightly.
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
from ..edit_request import EditRequest
from ..editing import Edit, encode_image
from ..errors import Ideogram4Error
from ..models.text_encoder import TextEncoder
from ..models.transformer import Ideogram4Transformer
from ..models.vae import Flux2VAE
from ..pipeline import Ideogram4Pipeline, ModelPaths, branches_with_loras, decode_images
from ..png_metadata import png_bytes, png_info
from ..sampling.latents import token_grid, tokens_to_vae
from ..sampling.sampler import StartLatent, initial_noise, sample
from ..weights.lora import LoraChoice, LoraStack
from .jobs import Job

T = TypeVar("T")


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
    exact_fp8: bool = False  # dequantise fp8 layers even where fp8 matmuls run


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
        self.pipeline = Ideogram4Pipeline(
            spec.paths, device=device, dtype=resolve_dtype(spec.dtype, device), exact_fp8=spec.exact_fp8
        )
        self.batch_size = spec.batch_size
        self.cache = FeatureCache(spec.cache_bytes)
        self.name = f"{socket.gethostname()}:{os.getpid()} {device}"
        self.load_seconds: dict[str, float] = {}
        self._encoder: TextEncoder | None = None
        self._cond: Ideogram4Transformer | None = None
        self._uncond: Ideogram4Transformer | None = None
        self._vae: Flux2VAE | None = None
        self._loras: tuple[LoraChoice, tuple[LoraStack, LoraStack]] | None = None  # the set in use

    def render(self, tasks: Sequence[ImageTask]) -> Iterator[Outcome]:
        """Encode, sample and decode `tasks`; yields one Outcome per task as each image is finished."""
        outcomes = {id(t): Outcome(t, self.name) for t in tasks}
        ready = []
        for task in tasks:
            if task.job.error:
                outcomes[id(task)].error = task.job.error
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
        for task, latent, edit in latents:
            outcome = outcomes[id(task)]
            began = time.perf_counter()
            (image,) = decode_images(vae, latent.unsqueeze(0), edit)
            outcome.timings["decode"] = time.perf_counter() - began
            began = time.perf_counter()
            loras = task.job.lora_choice().describe()
            info = png_info(task.job.caption, task.seed, task.job.settings, loras, ideogram4_job=_job_text(task))
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
                try:
                    encoder = self._text_encoder()  # loaded once; its loading is not counted as encoding
                    began = time.perf_counter()
                    features[sha] = encoder.encode([task.job.caption])[0]
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
        """(task, latent, edit) for every task sampled; a group whose sampling fails is yielded as failed."""
        groups: dict[tuple, list[ImageTask]] = {}
        for task in tasks:
            groups.setdefault(group_key(task.job), []).append(task)
        latents: list[tuple[ImageTask, torch.Tensor, Edit | None]] = []
        for group in groups.values():
            job = group[0].job
            grid, size = token_grid(job.width, job.height), (job.width, job.height)
            try:
                cond, uncond, edit, start = self._group_inputs(job)
            except (Ideogram4Error, torch.OutOfMemoryError) as exc:
                yield from _failed(group, exc, outcomes)
                continue
            for first in range(0, len(group), self.batch_size):
                batch = group[first : first + self.batch_size]
                began = time.perf_counter()
                try:
                    text = [features[t.job.caption_sha256] for t in batch]
                    noise = torch.cat([initial_noise(t.seed, 1, grid[0] * grid[1]) for t in batch])
                    tokens = sample(cond, uncond, text, noise, grid, size, job.settings, start=start).cpu()
                except (Ideogram4Error, torch.OutOfMemoryError) as exc:
                    yield from _failed(batch, exc, outcomes)
                    continue
                seconds = (time.perf_counter() - began) / len(batch)
                for task, latent in zip(batch, tokens_to_vae(tokens, grid), strict=True):
                    outcomes[id(task)].timings["sample"] = seconds
                    latents.append((task, latent, edit))
        return latents

    def _group_inputs(
        self, job: Job
    ) -> tuple[torch.nn.Module, torch.nn.Module | None, Edit | None, StartLatent | None]:
        """The branches (with the group's LoRAs) and the edit with its start latent, shared by a group."""
        choice = job.lora_choice()
        needs_uncond = self.pipeline.check_unconditional(job.settings, choice)
        stacks = self._lora_stacks(choice)
        base, uncond_base = self._transformers(needs_uncond and not choice.unconditional_from_conditional)
        if needs_uncond and choice.unconditional_from_conditional:
            uncond_base = base
        cond, uncond = branches_with_loras(base, uncond_base, stacks)
        request = job.edit_request()
        if request is None:
            return cond, uncond, None, None
        edit = request.build(job.caption, job.width, job.height)
        return cond, uncond, edit, edit.start(encode_image(self._decoder(), edit.image).cpu())

    def _lora_stacks(self, choice: LoraChoice) -> tuple[LoraStack, LoraStack]:
        """The LoRA files of `choice`, read once while consecutive groups keep the same set."""
        if self._loras is None or self._loras[0] != choice:
            self._loras = (choice, choice.stacks())
        return self._loras[1]

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


def group_key(job: Job) -> tuple:
    """Jobs with equal keys share a sampler call: size, settings, LoRA set and edit (the caption too when the
    edit's mask comes from the caption's element boxes)."""
    request: EditRequest | None = job.edit_request()
    caption = job.caption_sha256 if request is not None and request.edit_elements else None
    return job.width, job.height, job.settings, job.lora_choice(), request, caption


def _failed(tasks: Sequence[ImageTask], exc: Exception, outcomes: dict[int, Outcome]) -> Iterator[Outcome]:
    message = str(exc) if isinstance(exc, Ideogram4Error) else "out of memory while sampling"
    for task in tasks:
        outcomes[id(task)].error = message
        yield outcomes[id(task)]


def _job_text(task: ImageTask) -> str:
    """The job as a PNG text chunk: id, seed, size, preset and resolved settings."""
    job = task.job
    facts = {"id": job.id, "seed": task.seed, "width": job.width, "height": job.height, "preset": job.preset}
    return json.dumps({**facts, "settings": asdict(job.settings)}, ensure_ascii=False)
