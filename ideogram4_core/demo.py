"""A tiny random Ideogram 4 in the official folder layout, so the whole pipeline runs without real weights.

The image it renders is noise-like (the weights are random); what it proves is that every stage — tokenizer,
text encoder, both transformers, sampler, VAE — loads from disk and runs on this machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from .models.text_encoder import Qwen3TapEncoder, TextEncoderConfig
from .models.tokenizer import SPECIAL_TOKEN_IDS
from .models.transformer import Ideogram4Transformer, TransformerConfig
from .models.vae import Flux2VAE, VAEConfig

DEMO_CAPTION = json.dumps(
    {
        "high_level_description": "A minimal poster with a headline",
        "style_description": {
            "aesthetics": "clean, modern",
            "lighting": "flat",
            "medium": "digital illustration",
            "art_style": "flat vector",
            "color_palette": ["#1D3557", "#F1FAEE", "#E63946"],
        },
        "compositional_deconstruction": {
            "background": "off-white paper texture",
            "elements": [
                {"type": "text", "bbox": [100, 120, 300, 880], "text": "HELLO", "desc": "bold sans-serif headline"}
            ],
        },
    },
    ensure_ascii=False,
    separators=(",", ":"),
)
_TEXT = TextEncoderConfig(
    vocab_size=max(SPECIAL_TOKEN_IDS.values()) + 1,
    hidden_size=32,
    intermediate_size=64,
    num_layers=36,
    num_heads=2,
    num_kv_heads=1,
    head_dim=16,
)
_DIT = TransformerConfig(
    num_layers=2,
    attention_head_dim=64,
    num_attention_heads=2,
    intermediate_size=128,
    adaln_dim=32,
    llm_features_dim=_TEXT.feature_dim,
    mrope_section=(8, 8, 8),
)
_VAE_LEVELS = (16, 16, 32, 32)
_VAE = VAEConfig(decoder_channels=_VAE_LEVELS, encoder_channels=_VAE_LEVELS, layers_per_block=1, norm_groups=8)


def write_demo_model(folder: Path, seed: int = 0) -> Path:
    """Write transformer/, unconditional_transformer/, text_encoder/, tokenizer/ and vae/ under `folder`."""
    torch.manual_seed(seed)
    dit_config = {"_class_name": "Ideogram4Transformer2DModel", **asdict(_DIT)}
    for name in ("transformer", "unconditional_transformer"):
        _save(folder / name, "diffusion_pytorch_model", Ideogram4Transformer(_DIT), dit_config)
    text_config = {
        "model_type": "qwen3_vl",
        "text_config": {
            "vocab_size": _TEXT.vocab_size,
            "hidden_size": _TEXT.hidden_size,
            "intermediate_size": _TEXT.intermediate_size,
            "num_hidden_layers": _TEXT.num_layers,
            "num_attention_heads": _TEXT.num_heads,
            "num_key_value_heads": _TEXT.num_kv_heads,
            "head_dim": _TEXT.head_dim,
            "rope_parameters": {"rope_type": "default", "rope_theta": _TEXT.rope_theta},
        },
    }
    _save(folder / "text_encoder", "model", Qwen3TapEncoder(_TEXT), text_config, prefix="language_model.")
    vae_config = {
        "_class_name": "AutoencoderKLFlux2",
        "block_out_channels": list(_VAE.decoder_channels),
        "layers_per_block": _VAE.layers_per_block,
        "latent_channels": _VAE.latent_channels,
        "norm_num_groups": _VAE.norm_groups,
    }
    _save(folder / "vae", "diffusion_pytorch_model", Flux2VAE(_VAE), vae_config)
    _byte_tokenizer().save(str(_mkdir(folder / "tokenizer") / "tokenizer.json"))
    return folder


def _save(folder: Path, stem: str, module: torch.nn.Module, config: dict, prefix: str = "") -> None:
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.ndim > 1 or "bias" in name:
                param.normal_(0.0, 0.5 / max(1, param.shape[-1]) ** 0.5)
    tensors = {prefix + k: v.contiguous() for k, v in module.state_dict().items()}
    save_file(tensors, str(_mkdir(folder) / f"{stem}.safetensors"))
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def _byte_tokenizer() -> Tokenizer:
    """Byte-level tokenizer (one token per byte) whose chat special tokens have Qwen's ids."""
    vocab = {char: i for i, char in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab.update({token: token_id for token, token_id in SPECIAL_TOKEN_IDS.items()})
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKEN_IDS])
    return tokenizer


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
