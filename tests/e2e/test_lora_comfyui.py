"""Ideogram 4 · LoRA in a real ComfyUI: the LoRA changes the image, a strength change re-runs only the LoRA node
and the sampler (the loaders stay cached: the base is not reloaded), strength 0 gives the plain image again,
single-model mode runs the unconditional branch on the conditional weights, and a foreign LoRA fails on the node
while the server keeps running."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from ideogram4_core.demo import write_demo_model

from .comfyui_harness import ComfyUI, history_messages
from .model_files import write_lora_file
from .test_generation_comfyui import CAPTION

LORA = "ig4_demo_style.safetensors"


@pytest.fixture(scope="module")
def repo(comfyui: ComfyUI) -> Path:
    folder = comfyui.models_dir / "diffusers" / "ig4-demo-lora"
    write_demo_model(folder)
    write_lora_file(comfyui.models_dir / "loras" / LORA, folder / "transformer")
    flux = comfyui.models_dir / "loras" / "flux_style.safetensors"
    save_file({"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": torch.zeros(2, 8),
               "lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight": torch.zeros(8, 2)}, str(flux))  # fmt: skip
    return folder


def graph(strength: float, lora: str = LORA, single_model: bool = False, strength_uncond: float = 0.0) -> dict:
    nodes = {
        "1": ("IG4_ModelLoader", {"model": "ig4-demo-lora/", "unconditional_model": "auto", "weight_format": "auto",
                                  "compute_dtype": "auto", "block_streaming": "auto", "single_model": single_model}),
        "2": ("IG4_TextEncoderLoader", {"text_encoder": "ig4-demo-lora/text_encoder/", "tokenizer": "auto",
                                        "compute_dtype": "auto"}),
        "3": ("IG4_VAELoader", {"vae": "ig4-demo-lora/vae/"}),
        "4": ("IG4_TextEncode", {"text_encoder": ["2", 0], "caption": CAPTION}),
        "9": ("IG4_LoraLoader", {"model": ["1", 0], "lora": lora, "strength_cond": strength,
                                 "strength_uncond": strength_uncond}),
        "5": ("IG4_Sampler", {"model": ["9", 0], "conditioning": ["4", 0], "width": 64, "height": 48,
                              "seed": 5, "preset": "Turbo (12 steps)", "batch_size": 1, "denoise": 1.0,
                              "step_cache": 0.0, "progressive": 0.0}),
        "6": ("IG4_VAEDecode", {"vae": ["3", 0], "samples": ["5", 0], "tiling": "auto"}),
        "7": ("SaveImage", {"images": ["6", 0], "filename_prefix": "ig4lora/run"}),
    }  # fmt: skip
    return {key: {"class_type": node, "inputs": inputs} for key, (node, inputs) in nodes.items()}


def _image(comfyui: ComfyUI, entry: dict) -> np.ndarray:
    saved = entry["outputs"]["7"]["images"][0]
    with Image.open(comfyui.base_dir / "output" / saved["subfolder"] / saved["filename"]) as image:
        return np.asarray(image).copy()


def _run(comfyui: ComfyUI, prompt: dict) -> dict:
    entry = comfyui.run_prompt(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    return entry


def test_strength_change_reruns_without_reloading_the_base(comfyui: ComfyUI, repo: Path):
    plain = _image(comfyui, _run(comfyui, graph(0.0)))
    first = _run(comfyui, graph(0.9))
    assert "ig4_demo_style.safetensors (kohya, 3 layers): cond @ 0.9" in first["outputs"]["9"]["text"][0]
    with_lora = _image(comfyui, first)
    assert not np.array_equal(with_lora, plain)
    second = _run(comfyui, graph(-0.6))
    cached = set(history_messages(second, "execution_cached")[0]["nodes"])
    assert {"1", "2", "3", "4"} <= cached and not {"9", "5"} & cached  # the base model is not reloaded
    assert not np.array_equal(_image(comfyui, second), with_lora)
    assert np.array_equal(_image(comfyui, _run(comfyui, graph(0.0))), plain)  # the cached base was never changed


def test_single_model_mode_with_an_unconditional_lora(comfyui: ComfyUI, repo: Path):
    entry = _run(comfyui, graph(0.0, single_model=True, strength_uncond=1.0))
    assert "uncond @ 1" in entry["outputs"]["9"]["text"][0]
    assert "single model" in entry["outputs"]["1"]["text"][0]


def test_a_foreign_lora_fails_on_the_node_and_the_server_keeps_running(comfyui: ComfyUI, repo: Path):
    entry = comfyui.run_prompt(graph(1.0, lora="flux_style.safetensors"))
    assert entry["status"]["status_str"] == "error"
    (error,) = [m for kind, m in entry["status"]["messages"] if kind == "execution_error"]
    assert error["node_id"] == "9" and "is a FLUX.1 LoRA, not an Ideogram 4 LoRA" in error["exception_message"]
    _run(comfyui, graph(0.5))
