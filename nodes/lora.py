"""``IG4_LoraLoader`` — "Ideogram 4 · LoRA": IDEOGRAM4_MODEL + a file from models/loras → IDEOGRAM4_MODEL.

Each branch's patcher is cloned (ComfyUI's ModelPatcher clones share the loaded module) and its LoRA stack, a
tuple of the engine's `LoraUse`, grows by this file as the clone's attachment; the sampler applies the stack as
side branches while it runs (`ideogram4_core.weights.lora`). So nothing of the cached base model changes, a
strength change re-runs only this node and the sampler, and chained nodes stack their LoRAs.
"""

from __future__ import annotations

import dataclasses

from comfy_api.latest import io

from ..ideogram4_core.errors import Ideogram4Error
from ..ideogram4_core.weights.lora import LoraUse, read_lora
from . import comfy_adapter as comfy
from . import model_catalog as catalog
from .sockets import Ideogram4ModelSocket
from .types import LORA_ATTACHMENT, Ideogram4Model, loras

STRENGTH = {"min": -10.0, "max": 10.0, "step": 0.05}


def _with_lora(patcher, use: LoraUse):
    clone = patcher.clone()
    clone.set_attachments(LORA_ATTACHMENT, (*loras(patcher), use))
    return clone


class IG4_LoraLoader(io.ComfyNode):
    """Adds one LoRA to the conditional and/or unconditional branch; chain several to stack them."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_LoraLoader",
            display_name="Ideogram 4 · LoRA",
            category="Ideogram 4",
            description="Applies a LoRA (diffusers/PEFT, ai-toolkit, kohya/ComfyUI or OneTrainer layout) from "
            "models/loras to the Ideogram 4 model, with one strength per branch. Works on every weight format; "
            "the loaded base model is never changed.",
            search_aliases=["ideogram", "lora", "load lora", "adapter"],
            inputs=[
                Ideogram4ModelSocket.Input("model"),
                io.Combo.Input("lora", options=comfy.list_files("loras"), tooltip="A LoRA file in models/loras."),
                io.Float.Input("strength_cond", default=1.0, **STRENGTH,
                               tooltip="Strength on the conditional branch (0: not applied there; negative inverts)."),
                io.Float.Input("strength_uncond", default=0.0, **STRENGTH,
                               tooltip="Strength on the unconditional branch: for unconditional LoRAs, e.g. with "
                               "the loader's single-model option."),
            ],
            outputs=[Ideogram4ModelSocket.Output(display_name="model")],
        )  # fmt: skip

    @classmethod
    def fingerprint_inputs(cls, lora: str, strength_cond: float, strength_uncond: float, **_: object) -> tuple:
        return (*catalog.fingerprint([comfy.full_path("loras", lora)]), strength_cond, strength_uncond)

    @classmethod
    def execute(cls, model: Ideogram4Model, lora: str, strength_cond: float, strength_uncond: float) -> io.NodeOutput:
        file = read_lora(comfy.full_path("loras", lora))
        file.check_fits(model.config)
        if strength_uncond != 0.0 and model.uncond is None:
            raise Ideogram4Error(
                f"{file.name}: strength_uncond needs an unconditional branch, but the model was loaded without one. "
                "Load the unconditional model, or switch on single_model in Ideogram 4 · Load Model."
            )
        cond, uncond, parts = model.cond, model.uncond, []
        if strength_cond != 0.0:
            cond = _with_lora(cond, LoraUse(file, strength_cond))
            parts.append(f"cond @ {strength_cond:g}")
        if strength_uncond != 0.0:
            uncond = _with_lora(uncond, LoraUse(file, strength_uncond))
            parts.append(f"uncond @ {strength_uncond:g}")
        line = f"LoRA {file.name} ({file.layout}, {len(file.adapters)} layers): {', '.join(parts) or 'strength 0'}"
        value = dataclasses.replace(model, cond=cond, uncond=uncond, description=f"{model.description} · {line}")
        return io.NodeOutput(value, ui={"text": [line]})
