"""``IG4_MagicPrompt`` — "Ideogram 4 · Magic Prompt": an idea (or a caption to revise, or a reference image) →
a valid caption STRING, written by the loaded text encoder's own Qwen3-VL body plus an LM head (nothing loaded
twice), and the ``POST /ideogram4/magic_prompt`` route the caption builder's Magic Prompt action calls (the most
recently loaded text encoder). The LM head is looked up next to the text encoder (`prompt_enhancer_head/`); the
vision tower is read from the text encoder's folder the first time an image comes. Both are kept per source
and dtype, in their own ModelPatchers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from comfy_api.latest import io

from ..ideogram4_core.caption.magic_decode import MIN_NEW_TOKENS, Sampling
from ..ideogram4_core.caption.magic_prompt import MagicPrompter, MagicResult
from ..ideogram4_core.errors import Ideogram4Error, ModelFileError
from ..ideogram4_core.image_files import load_data_url
from ..ideogram4_core.images import first_image
from ..ideogram4_core.models.causal_lm import CausalLM
from ..ideogram4_core.models.lm_head import find_lm_head, load_lm_head
from ..ideogram4_core.models.vision import VisionEncoder, load_vision_encoder
from ..ideogram4_core.models.vision_input import ImageProcessing
from . import comfy_adapter as comfy
from .routes import register_magic_route
from .sockets import Ideogram4TextEncoderSocket
from .types import Ideogram4TextEncoderModel

_DEFAULTS = Sampling()
PROMPT_ALLOWANCE = 4096
"""Positions reserved for the prompt (system prompt + idea, caption to revise or a reference image's ≤ 1024
tokens) when sizing the KV cache."""
_heads: dict[tuple[Path, Any], Any] = {}  # (head path, compute dtype) → ModelPatcher around the head
_visions: dict[tuple[Path, Any], tuple[Any, ImageProcessing]] = {}  # (source, dtype) → (tower's patcher, settings)
_latest: list[Ideogram4TextEncoderModel] = []


def remember_text_encoder(text_encoder: Ideogram4TextEncoderModel) -> None:
    """The text encoder the route uses: the one loaded last."""
    _latest[:] = [text_encoder]


def _source(text_encoder: Ideogram4TextEncoderModel, what: str) -> Path:
    if text_encoder.source is None:
        raise ModelFileError(f"This text encoder was not loaded from a file, so no {what} can be found next to it.")
    return text_encoder.source


def _head_patcher(text_encoder: Ideogram4TextEncoderModel) -> Any:
    path = find_lm_head(_source(text_encoder, "LM head"))
    key = (path, text_encoder.dtype)
    if key not in _heads:
        cfg = text_encoder.patcher.model.config
        offload = text_encoder.patcher.offload_device
        head = load_lm_head(
            path, vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, device=offload, dtype=text_encoder.dtype
        )
        _heads[key] = comfy.wrap_model(head, "text_encoder")
    return _heads[key]


def _vision(text_encoder: Ideogram4TextEncoderModel) -> tuple[Any, ImageProcessing]:
    """The vision tower's patcher (read once per source and dtype, on the offload device) and its preprocessing."""
    key = (_source(text_encoder, "vision tower"), text_encoder.dtype)
    if key not in _visions:
        offload = text_encoder.patcher.offload_device
        encoder = load_vision_encoder(key[0], device=offload, dtype=text_encoder.dtype)
        _visions[key] = (comfy.wrap_model(encoder.tower, "text_encoder"), encoder.processing)
    return _visions[key]


def write_caption(
    text_encoder: Ideogram4TextEncoderModel,
    idea: str,
    width: int,
    height: int,
    sampling: Sampling,
    caption: str | None = None,
    image: Any = None,
    node_id: str | None = None,
) -> MagicResult:
    """One caption: the encoder's patcher and the head's (and the vision tower's, with an image: the first of
    the batch) on the device, per-token progress, Cancel honoured."""
    head = _head_patcher(text_encoder)
    patchers, vision, reference = [text_encoder.patcher, head], None, None
    if image is not None:
        tower, processing = _vision(text_encoder)
        patchers.append(tower)
        vision, reference = (lambda: VisionEncoder(tower.model, processing)), first_image(image)
    report = comfy.progress(node_id, sampling.max_new_tokens)
    hint = "Use the fp8 or nf4 text encoder, or lower max new tokens."
    cache = _cache_bytes(text_encoder, sampling.max_new_tokens + PROMPT_ALLOWANCE)
    with comfy.oom_guard("the magic prompt", hint), comfy.models_on_device(patchers, cache):
        comfy.check_interrupted()
        lm = CausalLM(text_encoder.patcher.model, head.model)
        return MagicPrompter(lm, text_encoder.tokenizer, vision).write(
            idea, width, height, sampling, revise=caption or None, image=reference,
            progress=lambda done, total: report(done),
        )  # fmt: skip


def _cache_bytes(text_encoder: Ideogram4TextEncoderModel, positions: int) -> int:
    """Device memory the KV cache takes for `positions` (keys and values of every layer)."""
    cfg = text_encoder.patcher.model.config
    return 2 * cfg.num_layers * cfg.num_kv_heads * cfg.head_dim * positions * text_encoder.dtype.itemsize


def magic_request(body: Any) -> tuple[int, dict[str, Any]]:
    """The route's logic: {idea, width, height, seed, caption|null, image|null} → (200, {caption}) or
    (4xx, {error}); `image` is a base64 PNG/JPEG/WebP data URL to describe (the idea may then be empty)."""
    if not isinstance(body, dict):
        return 400, {"error": "the request body must be a JSON object {idea, width, height, seed, caption, image}"}
    idea, caption, image = body.get("idea", ""), body.get("caption"), body.get("image")
    width, height, seed = body.get("width"), body.get("height"), body.get("seed", 0)
    if not isinstance(idea, str) or not all(v is None or isinstance(v, str) for v in (caption, image)):
        return 400, {"error": '"idea" must be a string, "caption" and "image" a string or null'}
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (width, height, seed)):
        return 400, {"error": '"width", "height" and "seed" must be integers'}
    if not _latest:
        return 409, {"error": "No Ideogram 4 text encoder is loaded yet: run a workflow with the Ideogram 4 · "
                     "Text Encoder Loader once, then try again."}  # fmt: skip
    try:
        reference = None if image is None else load_data_url(image).rgb[None]
        result = write_caption(_latest[0], idea, width, height, Sampling(seed=seed), caption, reference)
    except Ideogram4Error as exc:
        return 400, {"error": str(exc)}
    return 200, {"caption": result.caption}


register_magic_route(magic_request)


class IG4_MagicPrompt(io.ComfyNode):
    """Writes a caption from an idea with the loaded text encoder."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_MagicPrompt",
            display_name="Ideogram 4 · Magic Prompt",
            category="Ideogram 4",
            description="Turns an idea into a valid, laid-out JSON caption (boxes fitted to width × height, literal "
            "text verbatim, palettes for a style) with the loaded text encoder and its LM head "
            "(prompt_enhancer_head/ next to it). With a caption connected, revises it as the idea asks; with an "
            "image connected, describes it (the idea steering it).",
            search_aliases=["ideogram", "magic prompt", "prompt enhancer", "upsample", "caption writer"],
            inputs=[
                Ideogram4TextEncoderSocket.Input("text_encoder"),
                io.String.Input("idea", multiline=True, default="", tooltip="The idea, or the change to make."),
                io.Int.Input("width", default=1024, min=64, max=8192, step=16),
                io.Int.Input("height", default=1024, min=64, max=8192, step=16),
                io.Int.Input("seed", default=0, min=0, max=2**63 - 1, control_after_generate=True),
                io.Float.Input("temperature", default=_DEFAULTS.temperature, min=0.0, max=2.0, step=0.05),
                io.Int.Input("max_new_tokens", default=_DEFAULTS.max_new_tokens, min=MIN_NEW_TOKENS, max=8192),
                io.Image.Input(
                    "image",
                    optional=True,
                    tooltip="A reference image to describe as a caption, the idea steering it (only the first image "
                    "of a batch is used). Needs the Qwen3-VL vision tower: load the text encoder from the official "
                    "text_encoder/ folder or the Hugging Face Qwen3-VL-8B-Instruct folder.",
                ),
                io.String.Input("caption", optional=True, force_input=True, tooltip="A caption to revise."),
            ],
            outputs=[io.String.Output(display_name="caption")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(
        cls,
        text_encoder: Ideogram4TextEncoderModel,
        idea: str,
        width: int,
        height: int,
        seed: int,
        temperature: float,
        max_new_tokens: int,
        image: Any = None,
        caption: str | None = None,
    ) -> io.NodeOutput:
        sampling = Sampling(seed=seed, temperature=temperature, max_new_tokens=max_new_tokens)
        result = write_caption(text_encoder, idea, width, height, sampling, caption, image, cls.hidden.unique_id)
        lines = [f"{result.tokens} tokens, {result.attempts} generation(s)", *result.notes]
        return io.NodeOutput(result.caption, ui={"text": ["\n".join(lines)]})
