"""Loader nodes: "Ideogram 4 · Load Model / Load Text Encoder / Load VAE".

Each loads its weights onto ComfyUI's offload device (the CPU unless --gpu-only/--highvram) in the compute
dtype, wraps the module in a ModelPatcher and returns a value of `types`; the consuming node moves it to the
GPU. The combos list what `model_catalog` finds in ComfyUI's model folders. `fingerprint_inputs` is the size
and mtime of every file used, so an unchanged graph reuses the loaded models and a rewritten file reloads.
"""

from __future__ import annotations

from pathlib import Path

import torch
from comfy_api.latest import io
from torch import nn

from ..ideogram4_core.devices import resolve_dtype
from ..ideogram4_core.errors import ModelFileError
from ..ideogram4_core.models.text_encoder import load_text_encoder, load_tokenizer
from ..ideogram4_core.models.transformer import TransformerConfig
from ..ideogram4_core.models.vae import load_vae
from ..ideogram4_core.weights.quant.fp8 import describe_fp8_path
from ..ideogram4_core.weights.transformer_weights import load_transformer
from . import comfy_adapter as comfy
from . import model_catalog as catalog
from .magic_prompt import remember_text_encoder
from .sockets import Ideogram4ModelSocket, Ideogram4TextEncoderSocket, Ideogram4VAESocket
from .types import Ideogram4Model, Ideogram4TextEncoderModel, Ideogram4VAE

CATEGORY = "Ideogram 4"
DTYPES = ["auto", "bf16", "fp16", "fp32"]
EXACT_FP8 = "exact fp8"
WEIGHT_FORMATS = ["auto", EXACT_FP8]
OLD_FP8_MATMUL = "auto + fp8 matmul"  # the fast path's former name, still in saved workflows: now the same as auto
STREAMING = ["auto", "always"]


def _repo_roots() -> list[Path]:
    return comfy.folder_roots("diffusion_models") + comfy.folder_roots("diffusers")


def _transformers() -> dict[str, Path]:
    diffusion_roots = comfy.folder_roots("diffusion_models") + comfy.folder_roots("unet_gguf")
    return catalog.transformers(diffusion_roots, comfy.folder_roots("diffusers"))


def _text_encoders() -> dict[str, Path]:
    return catalog.text_encoders(comfy.folder_roots("text_encoders"), _repo_roots())


def _vaes() -> dict[str, Path]:
    return catalog.vaes(comfy.folder_roots("vae"), _repo_roots())


def _dtype_input() -> io.Combo.Input:
    return io.Combo.Input(
        "compute_dtype",
        options=DTYPES,
        default="auto",
        advanced=True,
        tooltip="auto: bf16 on GPUs that run it well, else fp32 (ComfyUI's --fp32-unet/--bf16-text-enc/... win).",
    )


def _dtype(choice: str, role: str) -> tuple[torch.dtype, torch.device]:
    """(compute dtype, offload device) for a model of `role`."""
    load_device, offload_device = comfy.devices(role)
    dtype = comfy.compute_dtype(role, load_device) if choice == "auto" else resolve_dtype(choice, load_device)
    return dtype, offload_device


def _size(config: TransformerConfig) -> str:
    return f"{config.num_layers} blocks, hidden {config.hidden_size}, FFN {config.intermediate_size}"


def _label(path: Path) -> str:
    found = catalog.describe(path)
    fmt = found.format if found is not None and found.format else "unknown format"
    name = f"{path.parent.name}/{path.name}/" if path.is_dir() else path.name
    return f"{name} ({fmt})"


class IG4_ModelLoader(io.ComfyNode):
    """Both Ideogram 4 transformers, any weight format (detected from the files)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        models = list(_transformers())
        return io.Schema(
            node_id="IG4_ModelLoader",
            display_name="Ideogram 4 · Load Model",
            category=CATEGORY,
            description="Loads the conditional and unconditional Ideogram 4 transformers (official repo folder or "
            "single files from models/diffusion_models; bf16, fp8, nf4, fp8_scaled, nvfp4, int8, GGUF).",
            search_aliases=["ideogram", "ideogram4", "load model", "unet", "diffusion model"],
            inputs=[
                io.Combo.Input(
                    "model",
                    options=models,
                    tooltip="An official repo folder (holding transformer/) in models/diffusion_models or "
                    "models/diffusers, or a transformer file such as ideogram4_fp8_scaled.safetensors.",
                ),
                io.Combo.Input(
                    "unconditional_model",
                    options=[catalog.AUTO, catalog.NONE, *models],
                    default=catalog.AUTO,
                    tooltip="auto: the repo's unconditional_transformer/ or the file named like the model with "
                    "'unconditional'. none: skip it (only guidance 1 works).",
                ),
                io.Combo.Input(
                    "weight_format",
                    options=WEIGHT_FORMATS,
                    default="auto",
                    tooltip="The format is detected from the files and shown under the node. auto: fp8 layers "
                    "run as fp8 matrix products on GPUs that have them (compute capability 8.9+: RTX 40xx/50xx, "
                    "H100...; faster, not bit-exact), else they are dequantised. exact fp8: always dequantise "
                    "(exact, slower). Other formats are the same either way.",
                ),
                _dtype_input(),
                io.Combo.Input(
                    "block_streaming",
                    options=STREAMING,
                    default="auto",
                    advanced=True,
                    tooltip="auto: stream transformer blocks from RAM only when the models do not fit in VRAM. "
                    "always: stream even when they fit (least VRAM, slower).",
                ),
                io.Boolean.Input(
                    "single_model",
                    default=False,
                    optional=True,
                    tooltip="Run the unconditional branch on the conditional weights (plus the unconditional "
                    "LoRAs of Ideogram 4 · LoRA): one copy of the weights, half the memory. The unconditional "
                    "model is then neither needed nor read.",
                ),
            ],
            outputs=[Ideogram4ModelSocket.Output(display_name="model")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, weight_format: str | None = None) -> bool | str:
        """At queue time: one of the options, or the fast path's former name that saved workflows hold."""
        if weight_format in (None, OLD_FP8_MATMUL, *WEIGHT_FORMATS):
            return True
        return f"Unknown weight format {weight_format!r}; choose one of {', '.join(WEIGHT_FORMATS)}."

    @classmethod
    def fingerprint_inputs(cls, model: str, unconditional_model: str, single_model: bool = False, **_: object) -> tuple:
        entries = _transformers()
        pick = catalog.pick(entries, model, "Model")
        pair = catalog.resolve_pair(pick, catalog.NONE if single_model else unconditional_model, entries)
        return catalog.fingerprint(pair) + (("single model",) if single_model else ())

    @classmethod
    def execute(
        cls,
        model: str,
        unconditional_model: str,
        weight_format: str,
        compute_dtype: str = "auto",
        block_streaming: str = "auto",
        single_model: bool = False,
    ) -> io.NodeOutput:
        entries = _transformers()
        cond_path, uncond_path = catalog.resolve_pair(
            catalog.pick(entries, model, "Model"), catalog.NONE if single_model else unconditional_model, entries
        )
        dtype, device = _dtype(compute_dtype, "diffusion")
        fp8 = weight_format != EXACT_FP8
        node = cls.hidden.unique_id
        comfy.send_status(node, f"Loading {cond_path.name}…")
        cond = load_transformer(cond_path, device=device, dtype=dtype, branch="cond", fp8_matmul=fp8)
        uncond = None
        if uncond_path is not None:
            comfy.send_status(node, f"Loading {uncond_path.name}…")
            uncond = load_transformer(uncond_path, device=device, dtype=dtype, branch="uncond", fp8_matmul=fp8)
            if _size(uncond.config) != _size(cond.config):
                raise ModelFileError(
                    f"{uncond_path.name} ({_size(uncond.config)}) does not match {cond_path.name} "
                    f"({_size(cond.config)}): pick the unconditional transformer of the same model."
                )
        uncond_label = "the conditional weights (single model)" if single_model else "none"
        lines = [f"cond: {_label(cond_path)}", f"uncond: {_label(uncond_path) if uncond_path else uncond_label}"]
        fp8_path = describe_fp8_path(nn.ModuleList([m for m in (cond, uncond) if m is not None]),
                                     comfy.devices("diffusion")[0])  # fmt: skip
        lines.append(f"compute: {str(dtype).removeprefix('torch.')}" + (f", {fp8_path}" if fp8_path else ""))
        cond_patcher = comfy.wrap_model(cond, "diffusion")
        uncond_patcher = comfy.wrap_model(uncond, "diffusion") if uncond is not None else None
        value = Ideogram4Model(
            cond=cond_patcher,
            uncond=cond_patcher.clone() if single_model else uncond_patcher,
            config=cond.config,
            description=" · ".join(lines),
            dtype=dtype,
            stream=True if block_streaming == "always" else None,
            single_model=single_model,
        )
        return io.NodeOutput(value, ui={"text": ["\n".join(lines)]})


class IG4_TextEncoderLoader(io.ComfyNode):
    """The Qwen3-VL-8B text encoder (language tower up to the last tapped layer) and its tokenizer."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_TextEncoderLoader",
            display_name="Ideogram 4 · Load Text Encoder",
            category=CATEGORY,
            description="Loads the Qwen3-VL text encoder (qwen3vl_8b_*.safetensors from models/text_encoders or the "
            "repo's text_encoder/ folder) and its tokenizer.",
            search_aliases=["ideogram", "qwen3", "text encoder", "clip"],
            inputs=[
                io.Combo.Input(
                    "text_encoder",
                    options=list(_text_encoders()),
                    tooltip="A Qwen3-VL-8B file in models/text_encoders, or an official repo's text_encoder/ folder.",
                ),
                io.Combo.Input(
                    "tokenizer",
                    options=[catalog.AUTO, *catalog.tokenizers(_repo_roots())],
                    default=catalog.AUTO,
                    tooltip="auto: the tokenizer next to the text encoder, else the Qwen tokenizer bundled with "
                    "ComfyUI.",
                ),
                _dtype_input(),
            ],
            outputs=[Ideogram4TextEncoderSocket.Output(display_name="text_encoder")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def _paths(cls, text_encoder: str, tokenizer: str) -> tuple[Path, Path | None]:
        path = catalog.pick(_text_encoders(), text_encoder, "Text encoder")
        return path, catalog.resolve_tokenizer(tokenizer, path, catalog.tokenizers(_repo_roots()))

    @classmethod
    def fingerprint_inputs(cls, text_encoder: str, tokenizer: str, **_: object) -> tuple:
        return catalog.fingerprint(cls._paths(text_encoder, tokenizer))

    @classmethod
    def execute(cls, text_encoder: str, tokenizer: str, compute_dtype: str = "auto") -> io.NodeOutput:
        path, tokenizer_folder = cls._paths(text_encoder, tokenizer)
        caption_tokenizer = load_tokenizer(path, tokenizer_folder)
        dtype, device = _dtype(compute_dtype, "text_encoder")
        comfy.send_status(cls.hidden.unique_id, f"Loading {path.name}…")
        module = load_text_encoder(path, device=device, dtype=dtype)
        lines = [f"text encoder: {_label(path)}", f"tokenizer: {tokenizer_folder or 'the vocabulary in the GGUF'}"]
        fp8_path = describe_fp8_path(module, comfy.devices("text_encoder")[0])
        lines += [fp8_path] if fp8_path else []
        value = Ideogram4TextEncoderModel(
            comfy.wrap_model(module, "text_encoder"), caption_tokenizer, " · ".join(lines), dtype, path
        )
        value.encoder()  # refuses a tokenizer that does not belong to the encoder
        remember_text_encoder(value)
        return io.NodeOutput(value, ui={"text": ["\n".join(lines)]})


class IG4_VAELoader(io.ComfyNode):
    """The FLUX.2 VAE (decoder, and encoder when the file has one)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_VAELoader",
            display_name="Ideogram 4 · Load VAE",
            category=CATEGORY,
            description="Loads the FLUX.2 VAE (flux2-vae.safetensors from models/vae or the repo's vae/ folder).",
            search_aliases=["ideogram", "flux2 vae", "vae"],
            inputs=[
                io.Combo.Input(
                    "vae",
                    options=list(_vaes()),
                    tooltip="flux2-vae.safetensors in models/vae, or an official repo's vae/ folder.",
                ),
            ],
            outputs=[Ideogram4VAESocket.Output(display_name="vae")],
        )

    @classmethod
    def fingerprint_inputs(cls, vae: str) -> tuple:
        return catalog.fingerprint([catalog.pick(_vaes(), vae, "VAE")])

    @classmethod
    def execute(cls, vae: str) -> io.NodeOutput:
        path = catalog.pick(_vaes(), vae, "VAE")
        dtype, device = _dtype("auto", "vae")
        module = load_vae(path, device=device, dtype=dtype)
        label = _label(path)
        value = Ideogram4VAE(comfy.wrap_model(module, "vae"), f"vae: {label}", dtype, path)
        return io.NodeOutput(value, ui={"text": [f"vae: {label}"]})
