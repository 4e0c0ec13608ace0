"""Header-only safetensors files with the key layouts of real checkpoints (Ideogram 4 and other families).

`write_headers` writes a valid safetensors header and leaves the data region sparse (zeros that take no disk
space), so full-size shapes cost nothing. The layouts follow the released files: BFL/ComfyUI FLUX.1 and FLUX.2,
diffusers FLUX.2, Qwen-Image, Z-Image (ComfyUI NextDiT names), SDXL all-in-one checkpoints, PEFT and kohya LoRAs,
Qwen text encoders (ComfyUI text-only `model.*`), T5, and VAEs — only the keys detection needs plus a few more.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path

Spec = dict[str, tuple[str, Sequence[int]]]
"""Tensor name → (safetensors dtype, shape)."""

_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "U8": 1, "I8": 1, "I32": 4, "I64": 8}


def write_headers(path: Path, spec: Spec, metadata: Mapping[str, str] | None = None) -> Path:
    """A safetensors file holding `spec`'s tensors, all zero, its data region sparse."""
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for name, (dtype, shape) in spec.items():
        size = math.prod(shape) * _BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    return path


def ideogram4(hidden=4608, blocks=34, ffn=12288, text=53248, adaln=512, head=256, dtype="BF16", prefix="") -> Spec:
    """The original (fused q/k/v) Ideogram 4 DiT layout of SPEC §2.1; defaults are the released sizes."""
    spec: Spec = {
        "input_proj.weight": (dtype, (hidden, 128)), "input_proj.bias": (dtype, (hidden,)),
        "llm_cond_norm.weight": (dtype, (text,)),
        "llm_cond_proj.weight": (dtype, (hidden, text)), "llm_cond_proj.bias": (dtype, (hidden,)),
        "t_embedding.mlp_in.weight": (dtype, (hidden, hidden)), "t_embedding.mlp_in.bias": (dtype, (hidden,)),
        "t_embedding.mlp_out.weight": (dtype, (hidden, hidden)), "t_embedding.mlp_out.bias": (dtype, (hidden,)),
        "adaln_proj.weight": (dtype, (adaln, hidden)), "adaln_proj.bias": (dtype, (adaln,)),
        "embed_image_indicator.weight": (dtype, (2, hidden)),
        "final_layer.linear.weight": (dtype, (128, hidden)), "final_layer.linear.bias": (dtype, (128,)),
        "final_layer.adaln_modulation.weight": (dtype, (hidden, adaln)),
        "final_layer.adaln_modulation.bias": (dtype, (hidden,)),
    }  # fmt: skip
    for i in range(blocks):
        block = f"layers.{i}."
        spec |= {
            block + "attention.qkv.weight": (dtype, (3 * hidden, hidden)),
            block + "attention.o.weight": (dtype, (hidden, hidden)),
            block + "attention.norm_q.weight": (dtype, (head,)), block + "attention.norm_k.weight": (dtype, (head,)),
            block + "feed_forward.w1.weight": (dtype, (ffn, hidden)),
            block + "feed_forward.w3.weight": (dtype, (ffn, hidden)),
            block + "feed_forward.w2.weight": (dtype, (hidden, ffn)),
            **{block + f"{norm}.weight": (dtype, (hidden,)) for norm in
               ("attention_norm1", "attention_norm2", "ffn_norm1", "ffn_norm2")},
            block + "adaln_modulation.weight": (dtype, (4 * hidden, adaln)),
            block + "adaln_modulation.bias": (dtype, (4 * hidden,)),
        }  # fmt: skip
    return {prefix + name: value for name, value in spec.items()}


def tiny_ideogram4(**kwargs) -> Spec:
    return ideogram4(hidden=256, blocks=2, ffn=64, text=52, adaln=16, **kwargs)


def qwen3_text_encoder(hidden=32, layers=36, vocab=151936, prefix="model.", q_norm=True) -> Spec:
    """ComfyUI's text-only Qwen3 layout (`model.layers.{i}.self_attn.q_proj.weight`, …)."""
    spec: Spec = {f"{prefix}embed_tokens.weight": ("BF16", (vocab, hidden))}
    spec[f"{prefix}norm.weight"] = ("BF16", (hidden,))
    for i in range(layers):
        layer = f"{prefix}layers.{i}."
        spec |= {layer + f"self_attn.{p}_proj.weight": ("BF16", (hidden, hidden)) for p in "qkvo"}
        spec |= {layer + f"mlp.{p}_proj.weight": ("BF16", (2 * hidden, hidden)) for p in ("gate", "up")}
        spec |= {layer + "mlp.down_proj.weight": ("BF16", (hidden, 2 * hidden))}
        spec |= {layer + f"{n}.weight": ("BF16", (hidden,)) for n in ("input_layernorm", "post_attention_layernorm")}
        if q_norm:
            spec |= {layer + f"self_attn.{p}_norm.weight": ("BF16", (16,)) for p in "qk"}
    return spec


def vae(latent=32, prefix="", encoder=True) -> Spec:
    """BFL-layout VAE (`decoder.conv_in`, `decoder.up.{i}.block.{j}`, `decoder.mid.attn_1`, `bn.*`)."""
    spec: Spec = {
        "decoder.conv_in.weight": ("F32", (64, latent, 3, 3)),
        "decoder.post_quant_conv.weight": ("F32", (latent, latent, 1, 1)),
        "decoder.mid.attn_1.q.weight": ("F32", (64, 64, 1, 1)),
        "decoder.up.0.block.0.conv1.weight": ("F32", (32, 64, 3, 3)),
        "decoder.conv_out.weight": ("F32", (3, 32, 3, 3)),
        "bn.running_mean": ("F32", (4 * latent,)),
    }
    if encoder:
        spec |= {"encoder.conv_in.weight": ("F32", (32, 3, 3, 3)), "encoder.conv_out.weight": ("F32", (64, 32, 3, 3))}
    return {prefix + name: value for name, value in spec.items()}


FOREIGN: dict[str, tuple[Spec, str]] = {
    "flux1-dev.safetensors": (
        {
            "img_in.weight": ("BF16", (3072, 64)),
            "txt_in.weight": ("BF16", (3072, 4096)),
            "time_in.in_layer.weight": ("BF16", (3072, 256)),
            "guidance_in.in_layer.weight": ("BF16", (3072, 256)),
            "vector_in.in_layer.weight": ("BF16", (3072, 768)),
            "double_blocks.0.img_attn.qkv.weight": ("BF16", (9216, 3072)),
            "double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", (128,)),
            "single_blocks.0.linear1.weight": ("BF16", (21504, 3072)),
            "final_layer.linear.weight": ("BF16", (64, 3072)),
        },
        "a FLUX.1 transformer",
    ),
    "flux1-dev-comfy.safetensors": (
        {
            "model.diffusion_model.img_in.weight": ("BF16", (8, 64)),
            "model.diffusion_model.double_blocks.0.img_attn.qkv.weight": ("BF16", (24, 8)),
            "text_encoders.clip_l.transformer.text_model.embeddings.token_embedding.weight": ("BF16", (49408, 8)),
            "vae.decoder.conv_in.weight": ("BF16", (8, 16, 3, 3)),
        },
        "a FLUX.1 transformer",
    ),
    "flux2-dev.safetensors": (
        {
            "img_in.weight": ("BF16", (6144, 128)),
            "txt_in.weight": ("BF16", (6144, 15360)),
            "double_stream_modulation_img.lin.weight": ("BF16", (36864, 6144)),
            "single_stream_modulation.lin.weight": ("BF16", (18432, 6144)),
            "double_blocks.0.img_attn.qkv.weight": ("BF16", (18432, 6144)),
            "double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", (128,)),
        },
        "a FLUX.2 transformer",
    ),
    "flux2-klein-diffusers.safetensors": (
        {
            "x_embedder.weight": ("BF16", (16, 128)),
            "context_embedder.weight": ("BF16", (16, 48)),
            "double_stream_modulation_img.linear.weight": ("BF16", (96, 16)),
            "transformer_blocks.0.attn.to_q.weight": ("BF16", (16, 16)),
            "single_transformer_blocks.0.attn.to_qkv_mlp_proj.weight": ("BF16", (96, 16)),
        },
        "a FLUX.2 transformer",
    ),
    "qwen_image_bf16.safetensors": (
        {
            "img_in.weight": ("BF16", (3072, 64)),
            "txt_in.weight": ("BF16", (3072, 3584)),
            "txt_norm.weight": ("BF16", (3584,)),
            "proj_out.weight": ("BF16", (64, 3072)),
            "transformer_blocks.0.img_mod.1.weight": ("BF16", (18432, 3072)),
            "transformer_blocks.0.attn.to_q.weight": ("BF16", (3072, 3072)),
        },
        "a Qwen-Image transformer",
    ),
    "z_image_turbo_bf16.safetensors": (
        {
            "x_embedder.weight": ("BF16", (3840, 64)),
            "cap_embedder.0.weight": ("BF16", (2560,)),
            "cap_embedder.1.weight": ("BF16", (3840, 2560)),
            "t_embedder.mlp.0.weight": ("BF16", (1024, 256)),
            "noise_refiner.0.attention.k_norm.weight": ("BF16", (128,)),
            "layers.0.attention.qkv.weight": ("BF16", (11520, 3840)),
            "layers.0.feed_forward.w1.weight": ("BF16", (10240, 3840)),
            "cap_pad_token": ("BF16", (1, 3840)),
            "x_pad_token": ("BF16", (1, 3840)),
        },
        "a Z-Image transformer",
    ),
    "sd_xl_base_1.0.safetensors": (
        {
            "model.diffusion_model.input_blocks.0.0.weight": ("F16", (320, 4, 3, 3)),
            "model.diffusion_model.label_emb.0.0.weight": ("F16", (1280, 2816)),
            "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": ("F16", (49408, 8)),
            "first_stage_model.decoder.conv_in.weight": ("F16", (512, 4, 3, 3)),
        },
        "an SDXL checkpoint",
    ),
    "ideogram4_lora_peft.safetensors": (
        {
            "transformer.layers.0.attention.qkv.lora_A.weight": ("BF16", (16, 4608)),
            "transformer.layers.0.attention.qkv.lora_B.weight": ("BF16", (13824, 16)),
        },
        "a LoRA",
    ),
    "flux_lora_kohya.safetensors": (
        {
            "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": ("BF16", (16, 3072)),
            "lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight": ("BF16", (9216, 16)),
            "lora_unet_double_blocks_0_img_attn_qkv.alpha": ("F32", ()),
        },
        "a LoRA",
    ),
    "qwen_2.5_vl_7b.safetensors": (
        qwen3_text_encoder(hidden=3584, layers=2, q_norm=False),
        "a Qwen2.5-VL-7B language model (Qwen-Image's text encoder)",
    ),
    "qwen_3_4b.safetensors": (qwen3_text_encoder(hidden=2560, layers=2), "a Qwen3-4B (Z-Image's text encoder)"),
    "t5xxl_fp16.safetensors": (
        {"encoder.block.0.layer.0.SelfAttention.q.weight": ("F16", (4096, 4096)), "shared.weight": ("F16", (8, 4))},
        "a T5 text encoder",
    ),
    "ae.safetensors": (vae(latent=16), "a FLUX.1/SD3-style VAE with 16 latent channels"),
}
"""File name → (tensors, how identify describes it): checkpoints of other families."""
