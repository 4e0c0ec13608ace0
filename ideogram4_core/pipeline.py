"""Headless text-to-image: caption → text features → two-branch sampling → FLUX.2 decode.

Each stage loads its model onto the compute device only while it runs and frees it afterwards, so the
text encoder, the transformers and the VAE never have to be resident at the same time.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from .errors import CaptionError, ModelFileError
from .images import decoded_to_unit, unit_to_pil
from .models.text_encoder import TextEncoder, find_tokenizer_folder
from .models.tokenizer import CaptionTokenizer
from .models.transformer import Ideogram4Transformer
from .models.vae import Flux2VAE, load_vae
from .sampling.latents import token_grid, tokens_to_vae
from .sampling.sampler import StepCallback, initial_noise, sample
from .sampling.schedule import SamplingSettings
from .sampling.sizes import check_size
from .weights.identify import expect
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
    def from_folder(cls, folder: str | Path) -> ModelPaths:
        """The official layout: transformer/, unconditional_transformer/, text_encoder/, tokenizer/, vae/."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelFileError(f"Model folder not found: {folder}. Pass the downloaded Ideogram 4 repo folder.")
        _refuse_other_pipeline(folder)
        missing = [name for name in OFFICIAL_FOLDERS if not (folder / name).is_dir()]
        if "transformer" in missing:
            raise ModelFileError(
                f"{folder} is not an Ideogram 4 model folder (no transformer/). Expected the official layout "
                f"with {', '.join(f'{n}/' for n in OFFICIAL_FOLDERS)}."
            )
        if missing:
            raise ModelFileError(
                f"{folder} is missing {', '.join(f'{n}/' for n in missing)}. Download the complete Ideogram 4 repo."
            )
        return cls(*(folder / name for name in ("transformer", "unconditional_transformer", "text_encoder", "vae")),
                   tokenizer=folder / "tokenizer")  # fmt: skip


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
    def __init__(self, paths: ModelPaths, *, device: torch.device, dtype: torch.dtype) -> None:
        self.paths = paths
        self.device = device
        self.dtype = dtype

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
    ) -> GenerationResult:
        """Render `batch_size` images per caption; image order is caption-major like the reference."""
        captions = [captions] if isinstance(captions, str) else list(captions)
        if not captions or any(not c.strip() for c in captions):
            raise CaptionError("The caption is empty. Write a caption (ideally the JSON caption format).")
        if batch_size < 1:
            raise CaptionError(f"Batch size must be at least 1 (got {batch_size}).")
        check_size(width, height, full_size=read_transformer_config(self.paths.transformer).is_full_size)
        needs_uncond = self.check_unconditional(settings)
        self.check_token_counts(captions)

        features = self._encode(captions)
        per_image = [f for f in features for _ in range(batch_size)]
        grid = token_grid(width, height)
        tokens = self._sample(per_image, grid, (width, height), seed, settings, needs_uncond, callback)
        latent = tokens_to_vae(tokens, grid)
        return GenerationResult(self._decode(latent), latent, tokens)

    def check_unconditional(self, settings: SamplingSettings) -> bool:
        """Whether the run needs the unconditional branch; refuses a missing or wrong file before any loading."""
        if all(g == 1.0 for g in settings.guidance_schedule()):
            return False
        if self.paths.unconditional_transformer is None:
            raise ModelFileError(
                "Guidance needs the unconditional transformer; pass --unconditional-transformer (or set guidance 1)."
            )
        expect(self.paths.unconditional_transformer, "unconditional_transformer")
        return True

    def _tokenizer_folder(self) -> Path:
        return self.paths.tokenizer or find_tokenizer_folder(self.paths.text_encoder)

    def check_token_counts(self, captions: list[str]) -> None:
        """Fail on over-long captions before any model weights are read."""
        tokenizer = CaptionTokenizer.from_folder(self._tokenizer_folder())
        for caption in captions:
            tokenizer.token_ids(caption)

    def load_text_encoder(self) -> TextEncoder:
        return TextEncoder.load(self.paths.text_encoder, self._tokenizer_folder(), device=self.device, dtype=self.dtype)

    def load_branch(self, branch: str) -> Ideogram4Transformer:
        """The conditional ("cond") or unconditional ("uncond") transformer."""
        path = self.paths.transformer if branch == "cond" else self.paths.unconditional_transformer
        return load_transformer(path, device=self.device, dtype=self.dtype, branch=branch)

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
        callback: StepCallback | None,
    ) -> torch.Tensor:
        cond = self.load_branch("cond")
        uncond = self.load_branch("uncond") if needs_uncond else None
        try:
            noise = initial_noise(seed, len(text), grid[0] * grid[1])
            return sample(cond, uncond, text, noise, grid, size, settings, callback).cpu()
        finally:
            del cond, uncond
            _release(self.device)

    def _decode(self, latent: torch.Tensor) -> list[Image.Image]:
        vae = self.load_vae()
        try:
            return decode_images(vae, latent)
        finally:
            del vae
            _release(self.device)


def decode_images(vae: Flux2VAE, latent: torch.Tensor) -> list[Image.Image]:
    """Decode (B, 32, H/8, W/8) latents one image at a time (a batch's images do not change each other)."""
    with torch.inference_mode():
        return [to_pil(vae.decode(z.unsqueeze(0))[0]) for z in latent]


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) VAE output in [-1, 1] → 8-bit RGB, rounded like the reference's post-processing."""
    return unit_to_pil(decoded_to_unit(image).permute(1, 2, 0))


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
