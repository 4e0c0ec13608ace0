"""``IG4_Sampler`` — "Ideogram 4 · Sampler": both transformers + conditioning → LATENT.

Euler flow matching with asymmetric guidance (the unconditional transformer), the official presets or custom
settings, per-step progress, latent previews and Cancel at every step. The transformers are on the device
only while sampling (block-streamed when they do not fit). An optional LATENT starts image-to-image: `denoise`
is the noise level to start from (see `ideogram4_core.sampling.sampler.start_step`); the image size is then the
latent's. A LATENT's `noise_mask` (core's Set Latent Noise Mask) repaints only where it is white: kept tokens
end exactly at the LATENT's values. Output: ComfyUI's FLUX.2-family LATENT (B, 128, H/16, W/16), normalised (DESIGN.md).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import torch
from comfy_api.latest import io

from ..ideogram4_core.errors import Ideogram4Error
from ..ideogram4_core.sampling import schedule
from ..ideogram4_core.sampling.fast_modes import FastModes, sample_fast
from ..ideogram4_core.sampling.latents import TOKEN_CHANNELS, comfy_to_tokens, token_grid, tokens_to_comfy
from ..ideogram4_core.sampling.masks import TokenMask, token_mask
from ..ideogram4_core.sampling.sampler import StartLatent, initial_noise, start_step
from ..ideogram4_core.sampling.schedule import SamplingSettings
from ..ideogram4_core.sampling.sizes import PIXELS_PER_TOKEN, check_size
from . import comfy_adapter as comfy
from .conditioning import Ideogram4Conditioning
from .sampler_settings import CUSTOM, PRESET_LABELS, describe_run, preset_error, resolve_settings, size_error
from .sockets import Ideogram4ConditioningSocket, Ideogram4ModelSocket
from .types import Ideogram4Model

_DEFAULTS = schedule.PRESETS[schedule.DEFAULT_PRESET]
STEP_CACHE_TOOLTIP = (
    "Fast mode, off at 0 (exact). Skips a step's later transformer blocks when the first block changed less than "
    "this (relative) since the last full step. Measured on the CPU benchmark's random model (README, 'Speed'): up "
    "to 0.25 no step was skipped (same image); 0.5 ran 1.8× faster at 56 dB PSNR, SSIM 1.000 against the exact "
    "image. Larger values skip more and lose detail; check on your model."
)
PROGRESSIVE_TOOLTIP = (
    "Fast mode, off at 0 (exact). Runs this fraction of the steps at half resolution, then finishes at full size. "
    "Saves about 17 % of the work at 0.25 and 35 % at 0.5 but changes the image a lot: measured 16–20 dB PSNR, "
    "SSIM 0.2–0.66 against the exact image on the CPU benchmark's random model (README, 'Speed'). "
    "Text-to-image only."
)
COMPILE_TOOLTIP = (
    "torch.compile the transformer blocks (off by default). The first run of each image size (and branch) pays "
    "the compilation, from seconds to minutes; later runs at that size reuse it and run faster (the speed-up on "
    "GPUs is not measured yet). The image is the same up to float rounding. Needs a working torch.compile (on "
    "the GPU: Triton)."
)


def _custom_inputs() -> list[io.Input]:
    return [
        io.Int.Input("steps", default=_DEFAULTS.steps, min=1, max=200, tooltip="Euler steps in all."),
        io.Float.Input("guidance", default=_DEFAULTS.guidance, min=0.0, max=30.0, step=0.1,
                       tooltip="Guidance weight of the main steps (1: no unconditional pass)."),
        io.Int.Input("polish_steps", default=_DEFAULTS.polish_steps, min=0, max=200,
                     tooltip="Last steps that use the polish guidance instead."),
        io.Float.Input("polish_guidance", default=_DEFAULTS.polish_guidance, min=0.0, max=30.0, step=0.1,
                       tooltip="Guidance weight of the polish steps."),
        io.Float.Input("mu", default=_DEFAULTS.mu, min=-5.0, max=5.0, step=0.05,
                       tooltip="Schedule shift (logit-normal mean before the resolution term)."),
        io.Float.Input("std", default=_DEFAULTS.std, min=0.1, max=5.0, step=0.05,
                       tooltip="Schedule spread (logit-normal standard deviation)."),
    ]  # fmt: skip


def _image_start(latent: dict[str, Any], denoise: float, batch: int) -> tuple[StartLatent, tuple[int, int]]:
    """The image-to-image start from a LATENT, and the image size (width, height) it implies."""
    samples = latent["samples"]
    if samples.ndim != 4 or samples.shape[1] != TOKEN_CHANNELS:
        raise Ideogram4Error(
            f"This LATENT has shape {tuple(samples.shape)}; Ideogram 4 needs (B, {TOKEN_CHANNELS}, H/16, W/16) — "
            "from Ideogram 4 · Sampler, or a FLUX.2 latent (Empty Flux 2 Latent, VAE Encode with flux2-vae)."
        )
    if samples.shape[0] not in (1, batch):
        raise Ideogram4Error(
            f"The LATENT holds {samples.shape[0]} images but this run makes {batch}; use 1 or {batch} latents."
        )
    size = (samples.shape[3] * PIXELS_PER_TOKEN, samples.shape[2] * PIXELS_PER_TOKEN)
    mask = None
    if latent.get("noise_mask") is not None:  # core's Set Latent Noise Mask: 1 repaints, any resolution
        values = token_mask(latent["noise_mask"], tuple(samples.shape[2:]))
        if values.shape[0] not in (1, batch):
            raise Ideogram4Error(
                f"The LATENT's noise mask holds {values.shape[0]} masks but this run makes {batch} images; use 1 "
                f"or {batch} masks."
            )
        mask = TokenMask(values)
    return StartLatent(comfy_to_tokens(samples.float()), denoise, mask), size


def _working_memory(model: Ideogram4Model, batch: int, sequence: int) -> int:
    """Rough activation memory of one forward pass (FFN and attention intermediates dominate)."""
    config = model.config
    per_token = 3 * config.intermediate_size + 8 * config.hidden_size
    return batch * sequence * per_token * torch.tensor([], dtype=model.dtype).element_size()


def _steps_run(settings: SamplingSettings, size: tuple[int, int], start: StartLatent | None) -> int:
    if start is None:
        return settings.steps
    sig = schedule.sigmas(settings.steps, settings.mu, settings.std, *size)
    return settings.steps - start_step(sig, start.denoise)


class IG4_Sampler(io.ComfyNode):
    """Samples Ideogram 4 latents from a caption's conditioning."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        size = {"default": 1024, "min": 256, "max": 2048, "step": PIXELS_PER_TOKEN}
        options = [io.DynamicCombo.Option(label, []) for label in PRESET_LABELS]
        options.append(io.DynamicCombo.Option(CUSTOM, _custom_inputs()))
        return io.Schema(
            node_id="IG4_Sampler",
            display_name="Ideogram 4 · Sampler",
            category="Ideogram 4",
            description="Denoises Ideogram 4 latents with both transformers (asymmetric guidance), using the "
            "official presets or custom settings. Connect a LATENT for image-to-image.",
            search_aliases=["ideogram", "ksampler", "sampler", "generate"],
            inputs=[
                Ideogram4ModelSocket.Input("model"),
                Ideogram4ConditioningSocket.Input("conditioning"),
                io.Int.Input("width", **size, tooltip="Image width, a multiple of 16 (ignored with a LATENT)."),
                io.Int.Input("height", **size, tooltip="Image height, a multiple of 16 (ignored with a LATENT)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Noise seed; the same seed and settings give the reference's image."),
                io.DynamicCombo.Input(
                    "preset",
                    options=options,
                    tooltip="Official presets (steps, guidance, polish steps, schedule); Custom shows every setting.",
                ),
                io.Int.Input("batch_size", default=1, min=1, max=64, tooltip="Images per caption."),
                io.Latent.Input("latent", optional=True,
                                tooltip="Start from this latent (image-to-image); its size sets the image size."),
                io.Float.Input("denoise", default=1.0, min=0.01, max=1.0, step=0.01,
                               tooltip="With a LATENT: the noise level to start from (1: start from noise)."),
                io.Float.Input("step_cache", default=0.0, min=0.0, max=1.0, step=0.01, advanced=True,
                               tooltip=STEP_CACHE_TOOLTIP),
                io.Float.Input("progressive", default=0.0, min=0.0, max=0.9, step=0.05, advanced=True,
                               tooltip=PROGRESSIVE_TOOLTIP),
                io.Boolean.Input("compile", default=False, optional=True, advanced=True, tooltip=COMPILE_TOOLTIP),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
            hidden=[io.Hidden.unique_id],
            accept_all_inputs=True,  # an unknown preset label reaches validate_inputs instead of vanishing
        )  # fmt: skip

    @classmethod
    def validate_inputs(cls, width: int, height: int, preset: dict[str, Any] | str | None = None) -> bool | str:
        """At queue time: sizes are multiples of 16 (the model's size range is checked when it runs, as links
        are unknown here); the preset label is one of the options."""
        return size_error(width, height) or preset_error(preset) or True

    @classmethod
    def execute(
        cls,
        model: Ideogram4Model,
        conditioning: Ideogram4Conditioning,
        width: int,
        height: int,
        seed: int,
        batch_size: int,
        preset: dict[str, Any],
        denoise: float = 1.0,
        latent: dict[str, Any] | None = None,
        step_cache: float = 0.0,
        progressive: float = 0.0,
        compile: bool = False,
        **_not_inputs: Any,  # accept_all_inputs: keys of the prompt that are no input (e.g. a stale "preset.steps")
    ) -> io.NodeOutput:
        node_id = cls.hidden.unique_id
        settings = resolve_settings(preset)
        text = [f for f in conditioning.features for _ in range(batch_size)]
        start, size = None, (width, height)
        if latent is not None:
            start, size = _image_start(latent, denoise, len(text))
        check_size(*size, full_size=model.config.is_full_size)
        if conditioning.feature_dim != model.config.llm_features_dim:
            raise Ideogram4Error(
                f"The conditioning has {conditioning.feature_dim} features per token but the model expects "
                f"{model.config.llm_features_dim}; the text encoder and the model do not belong together."
            )
        fast = FastModes(step_cache=step_cache, progressive=progressive, compile=compile)
        needs_uncond = any(g != 1.0 for g in settings.guidance_schedule())
        if needs_uncond and model.uncond is None:
            raise Ideogram4Error("Guidance other than 1 needs the unconditional model; load it or use guidance 1.")
        grid = token_grid(*size)
        noise = initial_noise(seed, len(text), grid[0] * grid[1])
        steps_run = _steps_run(settings, size, start)
        patchers = model.patchers(needs_uncond)
        memory = _working_memory(model, len(text), grid[0] * grid[1] + max(f.shape[0] for f in text))
        comfy.check_interrupted()
        began = perf_counter()
        with comfy.models_on_device(patchers, memory, stream=model.stream) as device:
            report = comfy.step_reporter(node_id, steps_run, grid, device)
            cond, uncond = model.branch_modules(needs_uncond)
            tokens = sample_fast(cond, uncond, text, noise, grid, size, settings, report, start, fast)
        samples = tokens_to_comfy(tokens.to(patchers[0].offload_device), grid)
        status = describe_run(preset["preset"], settings, size, len(text), seed, perf_counter() - began, steps_run)
        comfy.send_status(node_id, status)
        return io.NodeOutput({"samples": samples}, ui={"text": [status]})
