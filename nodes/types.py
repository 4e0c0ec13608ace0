"""Values that flow between the pack's nodes (IDEOGRAM4_MODEL, IDEOGRAM4_TEXT_ENCODER, IDEOGRAM4_VAE).

Plain data, no ComfyUI imports: each holds ComfyUI ModelPatchers (typed `Any` here) around engine modules,
plus what the consuming nodes need to report and check. Modules sit on their offload device until a
consuming node loads them (`comfy_adapter.load_to_device` / `models_on_device`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..ideogram4_core.models.text_encoder import TextEncoder
from ..ideogram4_core.models.tokenizer import CaptionTokenizer
from ..ideogram4_core.models.transformer import TransformerConfig
from ..ideogram4_core.weights.lora import LoraStack, with_loras

MODEL_TYPE = "IDEOGRAM4_MODEL"
TEXT_ENCODER_TYPE = "IDEOGRAM4_TEXT_ENCODER"
VAE_TYPE = "IDEOGRAM4_VAE"
LORA_ATTACHMENT = "ideogram4_loras"
"""ModelPatcher attachment holding a branch's LoRA stack (a tuple of ideogram4_core LoraUse)."""


@dataclass(frozen=True)
class Ideogram4Model:
    """Both transformer branches. `uncond` None: only guidance 1 is possible.

    `stream` is the block-streaming choice for the sampler: None decides by free VRAM, True always streams.
    `single_model`: `uncond` is a clone of `cond`'s patcher (one copy of the weights serves both branches). Each
    patcher carries its branch's LoRAs as the `LORA_ATTACHMENT`; the modules themselves are never patched.
    """

    cond: Any  # ModelPatcher around ideogram4_core.models.transformer.Ideogram4Transformer
    uncond: Any | None
    config: TransformerConfig
    description: str  # e.g. "cond: ideogram4_fp8_scaled.safetensors (comfy-fp8-scaled) · uncond: …"
    dtype: torch.dtype  # compute dtype the modules were built for
    stream: bool | None = None
    single_model: bool = False

    def patchers(self, with_uncond: bool = True) -> list[Any]:
        """The patchers a sampling run needs (each set of weights once), conditional first (it gets VRAM first)."""
        separate = with_uncond and self.uncond is not None and not self.single_model
        return [self.cond] + ([self.uncond] if separate else [])

    def branch_modules(self, with_uncond: bool = True) -> tuple[torch.nn.Module, torch.nn.Module | None]:
        """(conditional, unconditional or None) transformers with their LoRA stacks, for one sampling run."""
        cond = with_loras(self.cond.model, loras(self.cond))
        if not with_uncond or self.uncond is None:
            return cond, None
        return cond, with_loras(self.uncond.model, loras(self.uncond))


def loras(patcher: Any) -> LoraStack:
    """The LoRA stack a branch's patcher carries (empty when none)."""
    return patcher.get_attachment(LORA_ATTACHMENT) or ()


@dataclass(frozen=True)
class Ideogram4TextEncoderModel:
    """The Qwen3-VL tap encoder (`patcher.model`) and the caption tokenizer that belongs to it."""

    patcher: Any  # ModelPatcher around ideogram4_core.models.text_encoder.Qwen3TapEncoder
    tokenizer: CaptionTokenizer
    description: str
    dtype: torch.dtype
    source: Path | None = None  # the file or folder it was loaded from (the magic prompt finds its LM head there)

    def encoder(self) -> TextEncoder:
        """The engine's caption encoder over the patcher's module (load it to the device first)."""
        return TextEncoder(self.patcher.model, self.tokenizer)


@dataclass(frozen=True)
class Ideogram4VAE:
    """The FLUX.2 VAE (`patcher.model` is ideogram4_core.models.vae.Flux2VAE)."""

    patcher: Any
    description: str
    dtype: torch.dtype
    path: Path
