"""Header rules that name a checkpoint's family and weight format from tensor names, shapes and dtypes.

Family rules follow the detection keys ComfyUI's `model_detection.py` and the diffusers/transformers layouts use
(e.g. `double_blocks.*` FLUX, `double_stream_modulation_img` FLUX.2, `txt_norm` Qwen-Image, `cap_embedder` +
`noise_refiner` Lumina 2 / Z-Image, `input_blocks` + `label_emb` SDXL). Names are matched at any prefix
(`model.diffusion_model.`, `transformer.`, `model.language_model.`, `first_stage_model.` …).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

from .safetensors_io import SafetensorsHeader, TensorInfo

TRANSFORMER, TEXT_ENCODER, VAE, UNKNOWN = "ideogram4-transformer", "qwen3-vl-text-encoder", "flux2-vae", "unknown"
LORA = "lora"

FLOAT_DTYPES = {"F16": "fp16", "BF16": "bf16", "F32": "fp32", "F64": "fp64"}
PLANNED_FORMATS = ("official-fp8", "official-nf4", "comfy-fp8-scaled", "comfy-nvfp4-mixed", "comfy-int8")
"""The formats of SPEC §2.2: recognised here even before a loader for them is registered."""

QUANT_AUX = (".weight_scale", ".weight_scale_2", ".input_scale", ".comfy_quant", ".absmax", ".quant_map",
             ".scale_weight", ".scale_input", ".SCB", ".nested_absmax", ".nested_quant_map")  # fmt: skip
"""Suffixes of quantisation side tensors (scales, markers): stored as is, not counted as parameters."""

_LORA = re.compile(r"(\.|_)lora(_[AB]|_down|_up|\.down|\.up)\b|\.(hada|lokr)_w\d|^lora_(unet|te\d?)_")
_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.")
_FOREIGN_TEXT_WIDTHS = {2560: "Qwen3-4B (Z-Image's text encoder)", 1024: "Qwen3-0.6B", 2048: "Qwen3-1.7B",
                        5120: "Qwen3-14B"}  # fmt: skip


class Keys:
    """The tensors of some headers, searchable by a dotted name at any prefix."""

    def __init__(self, headers: Sequence[SafetensorsHeader]) -> None:
        self.tensors: dict[str, TensorInfo] = {n: i for h in headers for n, i in h.tensors.items()}
        self._by_suffix: dict[str, str] = {}
        for name in self.tensors:
            parts = name.split(".")
            for start in range(len(parts)):
                self._by_suffix.setdefault(".".join(parts[start:]), name)

    def find(self, name: str) -> str | None:
        """The full name of a tensor called `name` after some prefix (or exactly `name`)."""
        return self._by_suffix.get(name)

    def has(self, *names: str) -> bool:
        return all(self.find(n) for n in names)

    def shape(self, name: str) -> tuple[int, ...] | None:
        full = self.find(name)
        return self.tensors[full].shape if full else None

    def count_layers(self) -> int:
        return len({m[1] for name in self.tensors if (m := _LAYER.search(name))})


Rule = Callable[[Keys], "tuple[str, str] | None"]


def classify(keys: Keys) -> tuple[str, str] | None:
    """(family id, description such as "a FLUX.1 transformer"), or None when no rule knows the tensors."""
    return next((found for rule in _RULES if (found := rule(keys))), None)


def _lora(keys: Keys) -> tuple[str, str] | None:
    pairs = sum(1 for name in keys.tensors if _LORA.search(name))
    if pairs:
        return LORA, f"a LoRA ({pairs} adapter tensors), not a full model"
    return None


def _ideogram(keys: Keys) -> tuple[str, str] | None:
    return (TRANSFORMER, "the Ideogram 4 transformer") if keys.has("embed_image_indicator.weight") else None


def _flux(keys: Keys) -> tuple[str, str] | None:
    if keys.has("double_stream_modulation_img.lin.weight") or keys.has("double_stream_modulation_img.linear.weight"):
        return "flux2-transformer", "a FLUX.2 transformer"
    if keys.has("txt_in.individual_token_refiner.blocks.0.norm1.weight"):
        return "hunyuan-video-transformer", "a HunyuanVideo transformer"
    bfl = keys.has("double_blocks.0.img_attn.qkv.weight") or keys.has("double_blocks.0.img_attn.norm.key_norm.scale")
    if keys.has("distilled_guidance_layer.in_proj.weight") and bfl:
        return "chroma-transformer", "a Chroma transformer (FLUX.1-based)"
    if bfl or keys.has("single_transformer_blocks.0.proj_mlp.weight"):
        return "flux1-transformer", "a FLUX.1 transformer"
    return None


def _qwen_image(keys: Keys) -> tuple[str, str] | None:
    if keys.has("txt_norm.weight", "img_in.weight") or keys.has("transformer_blocks.0.img_mod.1.weight"):
        return "qwen-image-transformer", "a Qwen-Image transformer"
    return None


def _lumina(keys: Keys) -> tuple[str, str] | None:
    if keys.has("all_x_embedder.2-1.weight"):
        return "z-image-transformer", "a Z-Image transformer (diffusers layout)"
    cap = keys.shape("cap_embedder.1.weight")
    if cap is None or not keys.has("noise_refiner.0.attention.k_norm.weight"):
        return None
    if cap[0] == 3840:
        return "z-image-transformer", "a Z-Image transformer"
    return "lumina2-transformer", "a Lumina Image 2.0-style (NextDiT) transformer"


def _stable_diffusion(keys: Keys) -> tuple[str, str] | None:
    if keys.has("joint_blocks.0.context_block.attn.qkv.weight"):
        return "sd3-transformer", "a Stable Diffusion 3 transformer (MMDiT)"
    ldm = keys.has("input_blocks.0.0.weight")
    if not ldm and not keys.has("time_embedding.linear_1.weight", "down_blocks.0.resnets.0.conv1.weight"):
        return None
    xl = keys.has("label_emb.0.0.weight") or keys.has("add_embedding.linear_1.weight")
    whole = any(n.startswith(("conditioner.", "cond_stage_model.", "first_stage_model.")) for n in keys.tensors)
    family, kind = ("sdxl", "an SDXL") if xl else ("sd", "a Stable Diffusion 1.x/2.x")
    if whole:
        return f"{family}-checkpoint", f"{kind} checkpoint (UNet, text encoders and VAE)"
    return f"{family}-unet", f"{kind} UNet"


def _text_encoder(keys: Keys) -> tuple[str, str] | None:
    embed = keys.shape("embed_tokens.weight")
    if embed is None or not keys.has("layers.0.self_attn.q_proj.weight"):
        return _other_text_encoder(keys)
    vocab, hidden = embed
    if not keys.has("layers.0.self_attn.q_norm.weight"):
        known = {3584: "a Qwen2.5-VL-7B language model (Qwen-Image's text encoder)", 5120: "a Mistral Small language "
                 "model (FLUX.2 [dev]'s text encoder)"}  # fmt: skip
        return "text-encoder", known.get(hidden, f"a {hidden}-wide language model without q/k norms (not Qwen3)")
    if vocab >= 200_000:
        return "text-encoder", f"a Gemma-style language model (vocabulary {vocab}), not Qwen3-VL"
    if hidden in _FOREIGN_TEXT_WIDTHS:
        return "text-encoder", f"a {_FOREIGN_TEXT_WIDTHS[hidden]} language model, not Qwen3-VL-8B (hidden 4096)"
    return TEXT_ENCODER, "the Ideogram 4 text encoder (Qwen3-VL language tower)"


def _other_text_encoder(keys: Keys) -> tuple[str, str] | None:
    if keys.has("encoder.block.0.layer.0.SelfAttention.q.weight"):
        return "text-encoder", "a T5 text encoder (FLUX.1/SD3's t5xxl)"
    if keys.has("text_model.encoder.layers.0.self_attn.q_proj.weight"):
        return "text-encoder", "a CLIP text encoder"
    if keys.has("visual.patch_embed.proj.weight") and not keys.has("embed_tokens.weight"):
        return "text-encoder", "only a Qwen-VL vision tower (no language model)"
    return None


def _vae(keys: Keys) -> tuple[str, str] | None:
    conv_in = keys.shape("decoder.conv_in.weight")
    if conv_in is None or len(conv_in) not in (4, 5):
        return None
    if len(conv_in) == 5:
        return "other-vae", "a video VAE with 3-D convolutions (Wan / Qwen-Image type), not FLUX.2's"
    latent = conv_in[1]
    if latent == 32:
        return VAE, "the FLUX.2 VAE"
    kind = {16: "FLUX.1/SD3-style ", 4: "Stable Diffusion/SDXL-style "}.get(latent, "")
    return "other-vae", f"a {kind}VAE with {latent} latent channels, not the FLUX.2 VAE (32)"


_RULES: tuple[Rule, ...] = (_lora, _ideogram, _flux, _qwen_image, _lumina, _stable_diffusion, _text_encoder, _vae)


def with_gguf_architecture(found: tuple[str, str] | None, architecture: str | None) -> tuple[str, str] | None:
    """Refine a classification with a GGUF's `general.architecture` (absent in sd.cpp-style diffusion exports).

    Qwen3-VL's language model is `qwen3vl`; any other language-model architecture (a text-only `qwen3` has the
    same shapes as Qwen3-VL-8B's tower, `llama` …) is named and refused; `clip` is a vision projector (mmproj).
    """
    if architecture is None or architecture == "qwen3vl":
        return found
    if architecture == "clip":
        return "other", "a vision projector (mmproj) GGUF, not a language model"
    if found is None:
        return UNKNOWN, f"a GGUF of architecture {architecture!r}"
    if found[0] == TEXT_ENCODER:
        same_shapes = {"qwen3": "a text-only Qwen3 language model (GGUF architecture 'qwen3'), not the Qwen3-VL one"}
        return "text-encoder", same_shapes.get(architecture, f"a language model of GGUF architecture {architecture!r}")
    if found[0] == "text-encoder":
        return "text-encoder", f"{found[1]}, GGUF architecture {architecture!r}"
    return found


def quantisation(headers: Sequence[SafetensorsHeader], config: Mapping) -> str | None:
    """The quantised format the headers show (a PLANNED_FORMATS id or a description), None for plain floats."""
    tensors = {n: i for h in headers for n, i in h.tensors.items()}
    metadata = {k for h in headers for k in h.metadata}
    settings = config.get("quantization_config") or {}

    def any_name(test: Callable[[str], bool]) -> bool:
        return any(test(n) for n in tensors)

    if settings.get("load_in_8bit") or any_name(lambda n: n.endswith(".SCB")):
        return "bitsandbytes int8"
    if any_name(lambda n: ".quant_state.bitsandbytes__" in n) or settings.get("quant_method") == "bitsandbytes":
        nf4 = settings.get("bnb_4bit_quant_type", "nf4") == "nf4" and not any_name(lambda n: "__fp4" in n)
        return "official-nf4" if nf4 else "bitsandbytes fp4"
    if any_name(lambda n: n.endswith(".weight_scale_2")):
        return "comfy-nvfp4-mixed"
    if any_name(lambda n: n.endswith(".comfy_quant") or n == "scaled_fp8") or "_quantization_metadata" in metadata:
        int8 = any(n.endswith(".weight") and i.dtype == "I8" for n, i in tensors.items())
        return "comfy-int8" if int8 else "comfy-fp8-scaled"
    scales = [i.shape for n, i in tensors.items() if n.endswith(".weight_scale")]
    if config.get("ideogram_fp8_weight_only") or any(len(s) == 1 and s[0] > 1 for s in scales):
        return "official-fp8"
    marked = {".qweight": "GPTQ/AWQ int4", ".weight_scale_inv": "block-scaled fp8"}
    for suffix, name in marked.items():
        if any_name(lambda n, s=suffix: n.endswith(s)):
            return name
    if settings or scales:
        return f"{settings.get('quant_method', 'scaled')} quantisation"
    odd = sorted({i.dtype for n, i in tensors.items() if n.endswith(".weight") and i.dtype not in FLOAT_DTYPES})
    return f"{'/'.join(odd)} weights without scales" if odd else None


def float_format(headers: Sequence[SafetensorsHeader]) -> str:
    """The float dtypes, e.g. "bf16", "fp32" or a mix such as "bf16+fp32" (most tensors first)."""
    counts: dict[str, int] = {}
    for header in headers:
        for info in header.tensors.values():
            if info.dtype in FLOAT_DTYPES:
                counts[FLOAT_DTYPES[info.dtype]] = counts.get(FLOAT_DTYPES[info.dtype], 0) + 1
    return "+".join(sorted(counts, key=lambda d: -counts[d])) or "no floating-point tensors"


def layer_index(name: str) -> int | None:
    """N in a `….layers.N.…` tensor name."""
    match = _LAYER.search(name)
    return int(match[1]) if match else None


def parameters(name: str, info: TensorInfo) -> int:
    """Model parameters a tensor holds: 0 for quantisation side tensors, 2 per byte for packed 4-bit weights."""
    if name.endswith(QUANT_AUX) or ".quant_state." in name or name == "scaled_fp8":
        return 0
    if info.dtype == "U8" and name.endswith(".weight"):
        return 2 * info.nbytes
    return math.prod(info.shape)
