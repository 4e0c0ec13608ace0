"""Tiny Qwen3-VL text encoders and tokenizer folders in the official Ideogram 4 repo layout, for tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ideogram4_core.models.tokenizer import bundled_tokenizer_dir

# Renders exactly SPEC §3's template for one user message holding text parts, like Qwen3-VL's own template.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% for part in message['content'] %}{{ part['text'] }}{% endfor %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def qwen_tokenizer_source() -> Path:
    """The real Qwen2 BPE files (vocab.json, merges.txt, tokenizer_config.json) bundled with the package."""
    return bundled_tokenizer_dir()


def write_tokenizer(folder: Path) -> Path:
    """A tokenizer/ folder: the real files, with a chat template that renders SPEC §3's template."""
    source = qwen_tokenizer_source()
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(source / name, folder / name)
    config = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["chat_template"] = CHAT_TEMPLATE
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return folder


def tiny_qwen3_vl(num_layers: int = 36, seed: int = 0, hidden: int = 32):
    """A random head-less Qwen3VLModel: full vocabulary, `hidden` wide (32), hidden/16 heads / 1 KV head of 16,
    tiny vision tower (2 blocks of width 32, patch 4, deepstack after both)."""
    from transformers import Qwen3VLModel

    torch.manual_seed(seed)
    model = Qwen3VLModel(_tiny_config(num_layers, hidden)).eval()
    _vary_norms(model.language_model)
    return model


def tiny_qwen3_vl_lm(seed: int = 0):
    """The same tiny model with its LM head: a random Qwen3VLForConditionalGeneration (the HF original's class)."""
    from transformers import Qwen3VLForConditionalGeneration

    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(_tiny_config(36)).eval()
    _vary_norms(model.model.language_model)
    return model


TINY_PREPROCESSOR = {"min_pixels": 256, "max_pixels": 2048}
"""Reference images of at most 32 image tokens for the tiny tower (patch 4, merge 2: 8×8 pixels per token)."""


def write_hf_original(folder: Path, seed: int = 0):
    """The Hugging Face original layout (model.language_model.*, model.visual.*, lm_head.weight, config.json)
    with a small-image preprocessor_config.json; returns the model (the oracle)."""
    model = tiny_qwen3_vl_lm(seed)
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(TINY_PREPROCESSOR))
    return model


def _tiny_config(num_layers: int, hidden: int = 32):
    from transformers import Qwen3VLConfig

    return Qwen3VLConfig(
        text_config={
            "vocab_size": 151936,
            "hidden_size": hidden,
            "intermediate_size": 2 * hidden,
            "num_hidden_layers": num_layers,
            "num_attention_heads": hidden // 16,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "rms_norm_eps": 1e-6,
            "initializer_range": 0.1,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": [4, 2, 2],
                "mrope_interleaved": True,
            },
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "patch_size": 4,
            "num_position_embeddings": 16,
            "deepstack_visual_indexes": [0, 1],
            "initializer_range": 0.1,
        },
        tie_word_embeddings=False,
    )


def _vary_norms(language_model) -> None:
    """Non-trivial norm weights, so a missed or misplaced norm shows."""
    with torch.no_grad():
        for name, param in language_model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)


def write_text_encoder(model, folder: Path, max_shard_size: str | None = None) -> Path:
    """Save in the official text_encoder/ layout (config.json + language_model.* / visual.* tensors)."""
    kwargs = {"max_shard_size": max_shard_size} if max_shard_size else {}
    model.save_pretrained(folder, **kwargs)
    return folder


def write_encoder_with_head(folder: Path, name: str, seed: int = 3) -> Path:
    """`folder/name`: a ComfyUI-style single-file tiny text encoder, with the official `prompt_enhancer_head/`
    (its LM head) beside it. Returns the file."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_qwen3_vl_lm(seed=seed)
    tower = {f"model.{k}": v.contiguous() for k, v in model.model.language_model.state_dict().items()}
    save_file(tower, folder / name)
    head = folder / "prompt_enhancer_head"
    head.mkdir(exist_ok=True)
    save_file({"lm_head.weight": model.lm_head.weight.detach().clone()}, head / "diffusion_pytorch_model.safetensors")
    config = {"_class_name": "Ideogram4PromptEnhancerHead", "hidden_size": model.lm_head.in_features,
              "vocab_size": model.lm_head.out_features}  # fmt: skip
    (head / "config.json").write_text(json.dumps(config))
    return folder / name


@pytest.fixture(scope="module")
def one_thread():
    """Token-by-token decoding makes thousands of tiny ops; on a shared CPU a thread pool only adds waiting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
