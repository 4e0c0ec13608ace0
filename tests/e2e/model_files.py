"""Tiny random Ideogram 4 models under the real names users have, for e2e runs of the example workflows.

- `models/diffusers/ideogram-4/`: the official folder layout (`ideogram4_core.demo`).
- ComfyUI's single files, which carry no config, so their shapes follow the released model where the loaders
  infer sizes from it: transformers with 256-wide heads (the released rotary sections), a text encoder with
  Qwen3-VL's full vocabulary (ComfyUI's bundled tokenizer fits it) and a VAE with 32 norm groups.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ideogram4_core.demo import write_demo_model
from ideogram4_core.models.transformer import Ideogram4Transformer, TransformerConfig
from ideogram4_core.models.vae import Flux2VAE, VAEConfig
from ideogram4_core.weights.lora.reading import linear_shapes
from ideogram4_core.weights.transformer_weights import read_transformer_config

FOLDER = "ideogram-4"
FP8_MODEL = "ideogram4_fp8_scaled.safetensors"
FP8_UNCONDITIONAL = "ideogram4_unconditional_fp8_scaled.safetensors"
TEXT_ENCODER_FILE = "qwen3vl_8b_fp8_scaled.safetensors"
VAE_FILE = "flux2-vae.safetensors"
LORA_FILE = "ideogram4_style_lora.safetensors"
LORA_MODULES = ("layers.0.attention.qkv", "layers.1.feed_forward.w2", "final_layer.linear")
QWEN3_VOCAB = 151936
EMBEDDINGS = "language_model.embed_tokens.weight"


def _save(module: torch.nn.Module, file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: tensor.contiguous() for name, tensor in module.state_dict().items()}, str(file))


def write_transformer_file(file: Path, features: int, seed: int) -> None:
    torch.manual_seed(seed)
    config = TransformerConfig(
        num_layers=2, num_attention_heads=1, intermediate_size=128, adaln_dim=32, llm_features_dim=features
    )
    _save(Ideogram4Transformer(config), file)


def write_text_encoder_file(file: Path, folder_file: Path) -> None:
    tensors = load_file(str(folder_file))
    embeddings = tensors[EMBEDDINGS]
    padding = torch.zeros(QWEN3_VOCAB - embeddings.shape[0], embeddings.shape[1], dtype=embeddings.dtype)
    tensors[EMBEDDINGS] = torch.cat([embeddings, padding])
    file.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(file))


def write_vae_file(file: Path) -> None:
    torch.manual_seed(0)
    levels = (32, 32, 32, 32)  # with the encoder: the editing workflows encode pictures
    _save(Flux2VAE(VAEConfig(decoder_channels=levels, encoder_channels=levels, layers_per_block=1)), file)


def write_lora_file(file: Path, transformer: Path, seed: int = 0) -> None:
    """A kohya-layout LoRA (`lora_unet_…`, lora_down/lora_up, alpha) sized for `transformer`."""
    shapes = linear_shapes(read_transformer_config(transformer))
    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for module in LORA_MODULES:
        rows, cols = shapes[module]
        name = "lora_unet_" + module.replace(".", "_")
        tensors[f"{name}.lora_down.weight"] = torch.randn(4, cols, generator=gen) * 0.1
        tensors[f"{name}.lora_up.weight"] = torch.randn(rows, 4, generator=gen)
        tensors[f"{name}.alpha"] = torch.tensor(4.0)
    file.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(file))


@contextlib.contextmanager
def placed_model_files(models_dir: Path) -> Iterator[Path]:
    """The folder and the single files under `models_dir` while the context lasts (other e2e modules list the
    model folders exactly); yields the folder."""
    repo = models_dir / "diffusers" / FOLDER
    write_demo_model(repo)
    features = json.loads((repo / "transformer" / "config.json").read_text())["llm_features_dim"]
    files = [models_dir / "diffusion_models" / name for name in (FP8_MODEL, FP8_UNCONDITIONAL)]
    for seed, file in enumerate(files):
        write_transformer_file(file, features, seed)
    files.append(models_dir / "text_encoders" / TEXT_ENCODER_FILE)
    write_text_encoder_file(files[-1], repo / "text_encoder" / "model.safetensors")
    files.append(models_dir / "vae" / VAE_FILE)
    write_vae_file(files[-1])
    files.append(models_dir / "loras" / LORA_FILE)
    write_lora_file(files[-1], files[0])
    try:
        yield repo
    finally:
        shutil.rmtree(repo)
        for file in files:
            file.unlink()
