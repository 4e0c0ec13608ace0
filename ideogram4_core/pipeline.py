"""Headless text-to-image: caption → text features → two-branch sampling → FLUX.2 decode.

Each stage loads its model onto the compute device only while it runs and frees it afterwards, so the
text encoder, the transformers and the VAE never have to be resident at the same time.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from .editing import Edit, encode_image
from .errors import CaptionError, Ideogram4Error, ModelFileError
from .images import decoded_to_unit, unit_to_pil
from .memory_plan import GUIDANCE_1, SINGLE_MODEL, TWO_MODELS, Weights, choose, options, streamed_branches
from .models.offload import BlockStreamer
from .models.text_encoder import TextEncoder, load_tokenizer
from .models.transformer import Ideogram4Transformer, TransformerConfig
from .models.vae import Flux2VAE, load_vae
from .sampling.fast_modes import EXACT, FastModes, sample_fast
from .sampling.latents import token_grid, tokens_to_vae
from .sampling.sampler import StartLatent, StepCallback, initial_noise
from .sampling.schedule import SamplingSettings
from .sampling.sizes import check_size
from .weights.identify import expect, identify
from .weights.lora import LoraChoice, LoraStack, with_loras
from .weights.resident import resident_bytes
from .weights.transformer_weights import load_transformer, read_transformer_config

OFFICIAL_FOLDERS = ("transformer", "unconditional_transformer", "text_encoder", "tokenizer", "vae")


@dataclass(frozen=True)
class ModelPaths:
    """Where each component lives: the official repo folders or individual files."""

    transformer: Path
    unconditional_transformer: Path | None
    text_encoder: Path
    vae: Path
    tokenizer: Path | None = None

    @classmethod
    def from_folder(cls, folder: str | Path, *, unconditional: bool = True) -> ModelPaths:
        """The official layout: transformer/, unconditional_transformer/, text_encoder/, tokenizer/, vae/.

        `unconditional` False (single-model mode) ignores unconditional_transformer/: it may even be absent.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelFileError(f"Model folder not found: {folder}. Pass the downloaded Ideogram 4 repo folder.")
        _refuse_other_pipeline(folder)
        wanted = [name for name in OFFICIAL_FOLDERS if unconditional or name != "unconditional_transformer"]
        missing = [name for name in wanted if not (folder / name).is_dir()]
        if "transformer" in missing:
            raise ModelFileError(
                f"{folder} is not an Ideogram 4 model folder (no transformer/). Expected the official layout "
                f"with {', '.join(f'{n}/' for n in OFFICIAL_FOLDERS)}."
            )
        if missing:
            raise ModelFileError(
                f"{folder} is missing {', '.join(f'{n}/' for n in missing)}. Download the complete Ideogram 4 repo."
            )
        uncond = folder / "unconditional_transformer" if unconditional else None
        return cls(folder / "transformer", uncond, folder / "text_encoder", folder / "vae", folder / "tokenizer")


def _refuse_other_pipeline(folder: Path) -> None:
    index = folder / "model_index.json"
    if not index.is_file():
        return
    try:
        name = json.loads(index.read_text()).get("_class_name", "")
    except (OSError, json.JSONDecodeError, AttributeError):
        return
    if name and name != "Ideogram4Pipeline":
        raise ModelFileError(f"{folder} holds a {name} model, not Ideogram 4. Point --model at the Ideogram 4 repo.")


@dataclass
class GenerationResult:
    images: list[Image.Image]
    latent: torch.Tensor  # float32 (B, 32, H/8, W/8): de-normalised, what the decoder received
    tokens: torch.Tensor  # float32 (B, N, 128): the sampler's normalised output


class Ideogram4Pipeline:
    def __init__(
        self,
        paths: ModelPaths,
        *,
        device: torch.device,
        dtype: torch.dtype,
        loras: LoraChoice | None = None,
        fast: FastModes = EXACT,
        vram_budget: int | None = None,
        exact_fp8: bool = False,
    ) -> None:
        self.paths = paths
        self.device = device
        self.dtype = dtype
        self.loras = loras or LoraChoice()
        self.fast = fast  # opt-in fast modes; the default samples exactly
        self.vram_budget = vram_budget  # bytes the sampling stage may use; None: everything stays resident
        self.exact_fp8 = exact_fp8  # dequantise fp8 transformer layers even where fp8 matmuls run

    def generate(
        self,
        captions: str | Sequence[str],
        *,
        width: int,
        height: int,
        seed: int,
        settings: SamplingSettings,
        batch_size: int = 1,
        callback: StepCallback | None = None,
        edit: Edit | None = None,
    ) -> GenerationResult:
        """Render `batch_size` images per caption; image order is caption-major like the reference.

        With `edit`, sampling starts from its picture (img2img, or inpainting with its mask) at its size.
        """
        captions = [captions] if isinstance(captions, str) else list(captions)
        if not captions or any(not c.strip() for c in captions):
            raise CaptionError("The caption is empty. Write a caption (ideally the JSON caption format).")
        if batch_size < 1:
            raise CaptionError(f"Batch size must be at least 1 (got {batch_size}).")
        config = read_transformer_config(self.paths.transformer)
        check_size(width, height, full_size=config.is_full_size)
        if edit is not None and edit.size != (width, height):
            raise Ideogram4Error(f"The picture to edit is {edit.size[0]}×{edit.size[1]}, not {width}×{height}.")
        needs_uncond = self.check_unconditional(settings)
        self.check_token_counts(captions)
        stacks = self.loras.stacks()  # every LoRA is read and checked before any model weights
        check_loras_fit(stacks, config)

        start = None if edit is None else edit.start(self._encode_image(edit.image))
        features = self._encode(captions)
        per_image = [f for f in features for _ in range(batch_size)]
        grid = token_grid(width, height)
        tokens = self._sample(per_image, grid, (width, height), seed, settings, needs_uncond, stacks, callback, start)
        latent = tokens_to_vae(tokens, grid)
        return GenerationResult(self._decode(latent, edit), latent, tokens)

    def check_unconditional(self, settings: SamplingSettings, loras: LoraChoice | None = None) -> bool:
        """Whether the run needs the unconditional branch; refuses a missing or wrong file before any loading.

        `loras` (default the pipeline's) tells whether single-model mode serves the branch from the conditional
        weights.
        """
        if all(g == 1.0 for g in settings.guidance_schedule()):
            return False
        if (loras or self.loras).unconditional_from_conditional:
            return True
        if self.paths.unconditional_transformer is None:
            raise ModelFileError(
                "Guidance needs the unconditional transformer; pass --unconditional-transformer, or "
                "--unconditional-from-conditional with an unconditional LoRA, or set guidance 1."
            )
        expect(self.paths.unconditional_transformer, "unconditional_transformer")
        return True

    def check_token_counts(self, captions: list[str]) -> None:
        """Fail on over-long captions before any model weights are read."""
        tokenizer = load_tokenizer(self.paths.text_encoder, self.paths.tokenizer)
        for caption in captions:
            tokenizer.token_ids(caption)

    def load_text_encoder(self) -> TextEncoder:
        return TextEncoder.load(self.paths.text_encoder, self.paths.tokenizer, device=self.device, dtype=self.dtype)

    def load_branch(self, branch: str, *, on_host: bool = False) -> Ideogram4Transformer:
        """The conditional ("cond") or unconditional ("uncond") transformer, without LoRAs (on the CPU when it
        is to be block-streamed). fp8 layers run as fp8 matmuls where the device has them, unless `exact_fp8`."""
        path = self.paths.transformer if branch == "cond" else self.paths.unconditional_transformer
        device = torch.device("cpu") if on_host else self.device
        return load_transformer(path, device=device, dtype=self.dtype, branch=branch, fp8_matmul=not self.exact_fp8)

    def streamed(self, needs_uncond: bool, text_tokens: int, size: tuple[int, int], batch: int) -> frozenset[str]:
        """The models ("cond", "uncond") to block-stream so sampling fits `vram_budget` (see `memory_plan`)."""
        if self.vram_budget is None:
            return frozenset()
        config = read_transformer_config(self.paths.transformer)
        if not needs_uncond:
            mode = GUIDANCE_1
        else:
            mode = SINGLE_MODEL if self.loras.unconditional_from_conditional else TWO_MODELS
        paths = [self.paths.transformer] + ([self.paths.unconditional_transformer] if mode == TWO_MODELS else [])
        stored = [Weights.of_total(config, resident_bytes(identify(p), self.dtype)) for p in paths]
        rows = options(config, *size, text_tokens, weights={"as stored": (stored[0], stored[-1])},
                       branch_modes=[mode], batch=batch, compute_bytes=self.dtype.itemsize)  # fmt: skip
        chosen = choose(rows, self.vram_budget)
        if chosen is None:
            need = min(row.peak_bytes for row in rows) / 2**30
            raise Ideogram4Error(
                f"Sampling {size[0]}×{size[1]} ({mode}) needs about {need:.1f} GiB even with block streaming, more "
                f"than the {self.vram_budget / 2**30:.1f} GiB budget. Use the fp8 or nf4 weights or a smaller size; "
                "`python -m ideogram4_core inspect --plan MODEL --vram-budget GB` lists what fits."
            )
        return streamed_branches(chosen.streaming, mode)

    def load_vae(self) -> Flux2VAE:
        return load_vae(self.paths.vae, device=self.device, dtype=self.dtype)

    def _encode(self, captions: list[str]) -> list[torch.Tensor]:
        encoder = self.load_text_encoder()
        try:
            return encoder.encode(captions)
        finally:
            del encoder
            _release(self.device)

    def _sample(
        self,
        text: list[torch.Tensor],
        grid: tuple[int, int],
        size: tuple[int, int],
        seed: int,
        settings: SamplingSettings,
        needs_uncond: bool,
        stacks: tuple[LoraStack, LoraStack],
        callback: StepCallback | None,
        start: StartLatent | None = None,
    ) -> torch.Tensor:
        streamed = self.streamed(needs_uncond, max(t.shape[0] for t in text), size, len(text))
        base = self.load_branch("cond", on_host="cond" in streamed)
        uncond_base = None
        if needs_uncond:
            single = self.loras.unconditional_from_conditional
            uncond_base = base if single else self.load_branch("uncond", on_host="uncond" in streamed)
        cond, uncond = branches_with_loras(base, uncond_base, stacks)
        try:
            noise = initial_noise(seed, len(text), grid[0] * grid[1])
            with contextlib.ExitStack() as streaming:
                for branch, model in (("cond", base), ("uncond", uncond_base)):
                    if branch in streamed and model is not None:
                        streaming.enter_context(BlockStreamer(model, model.layers, self.device))
                return sample_fast(cond, uncond, text, noise, grid, size, settings, callback, start, self.fast).cpu()
        finally:
            del base, uncond_base, cond, uncond
            _release(self.device)

    def _encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """(1, H, W, 3) picture in [0, 1] → normalised latent tokens (1, N, 128) on the CPU."""
        vae = self.load_vae()
        try:
            return encode_image(vae, image).cpu()
        finally:
            del vae
            _release(self.device)

    def _decode(self, latent: torch.Tensor, edit: Edit | None) -> list[Image.Image]:
        """VAE latents → the finished images (see `decode_images`)."""
        vae = self.load_vae()
        try:
            return decode_images(vae, latent, edit)
        finally:
            del vae
            _release(self.device)


def decode_units(vae: Flux2VAE, latent: torch.Tensor) -> torch.Tensor:
    """Decode (B, 32, H/8, W/8) latents one image at a time (a batch's images do not change each other) into
    (B, H, W, 3) float32 images in [0, 1] on the CPU."""
    with torch.inference_mode():
        return torch.cat([decoded_to_unit(vae.decode(z.unsqueeze(0))).permute(0, 2, 3, 1).cpu() for z in latent])


def decode_images(vae: Flux2VAE, latent: torch.Tensor, edit: Edit | None = None) -> list[Image.Image]:
    """`decode_units` (composited with an edit's picture outside its mask) as 8-bit RGB, rounded like the
    reference's post-processing."""
    images = decode_units(vae, latent)
    if edit is not None:
        images = edit.finish(images)
    return [unit_to_pil(image) for image in images]


def check_loras_fit(stacks: tuple[LoraStack, LoraStack], config: TransformerConfig) -> None:
    """Refuse a LoRA made for another model shape before any transformer weights are read."""
    for use in (*stacks[0], *stacks[1]):
        use.lora.check_fits(config)


def branches_with_loras(
    base: Ideogram4Transformer, uncond_base: Ideogram4Transformer | None, stacks: tuple[LoraStack, LoraStack]
) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """The branches the sampler runs: each base seen through its stack (bases are shared, never modified).
    In single-model mode `uncond_base` is `base` itself."""
    cond = with_loras(base, stacks[0])
    return cond, None if uncond_base is None else with_loras(uncond_base, stacks[1])


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
