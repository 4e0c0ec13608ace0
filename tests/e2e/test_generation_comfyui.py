"""Text Encode → Sampler → VAE Decode → Caption Overlay in a real ComfyUI, over the HTTP API, on a tiny random
Ideogram 4: DynamicCombo presets in API format, size validation, the status text and the decoded image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ideogram4_core.demo import write_demo_model

from .comfyui_harness import ComfyUI

CAPTION = (
    '{"compositional_deconstruction": {"background": "sky", "elements": '
    '[{"type": "obj", "bbox": [100, 100, 600, 500], "desc": "a kite"}]}}'
)


@pytest.fixture(scope="module")
def repo(comfyui: ComfyUI) -> Path:
    folder = comfyui.models_dir / "diffusers" / "ig4-demo"
    return folder if folder.is_dir() else write_demo_model(folder)


def graph(width: int = 64, height: int = 48, **preset: object) -> dict:
    nodes = {
        "1": ("IG4_ModelLoader", {"model": "ig4-demo/", "unconditional_model": "auto", "weight_format": "auto",
                                  "compute_dtype": "auto", "block_streaming": "auto"}),
        "2": ("IG4_TextEncoderLoader", {"text_encoder": "ig4-demo/text_encoder/", "tokenizer": "auto",
                                        "compute_dtype": "auto"}),
        "3": ("IG4_VAELoader", {"vae": "ig4-demo/vae/"}),
        "4": ("IG4_TextEncode", {"text_encoder": ["2", 0], "caption": CAPTION}),
        "5": ("IG4_Sampler", {"model": ["1", 0], "conditioning": ["4", 0], "width": width, "height": height,
                              "seed": 5, "preset": "Turbo (12 steps)", "batch_size": 1, "denoise": 1.0,
                              "step_cache": 0.0, "progressive": 0.0, **preset}),
        "6": ("IG4_VAEDecode", {"vae": ["3", 0], "samples": ["5", 0], "tiling": "auto"}),
        "7": ("IG4_CaptionOverlay", {"image": ["6", 0], "caption": CAPTION}),
        "8": ("PreviewImage", {"images": ["7", 0]}),
    }  # fmt: skip
    return {key: {"class_type": node, "inputs": inputs} for key, (node, inputs) in nodes.items()}


def test_generates_with_a_preset_and_with_custom_settings(comfyui: ComfyUI, repo: Path):
    entry = comfyui.run_prompt(graph())
    assert entry["status"]["status_str"] == "success", entry["status"]
    outputs = entry["outputs"]
    assert "tokens (limit 2048)" in outputs["4"]["text"][0]
    assert outputs["5"]["text"][0].startswith("Turbo (12 steps): 12 steps, guidance 7 (1 polish @ 3)")
    assert outputs["6"]["text"][0] == "1 × 64×48 decoded whole"
    assert outputs["7"]["text"][0] == "1 boxed element drawn" and outputs["8"]["images"]
    custom = {"preset": "Custom", "preset.steps": 3, "preset.guidance": 4.0, "preset.polish_steps": 1,
              "preset.polish_guidance": 2.0, "preset.mu": 0.0, "preset.std": 1.0}  # fmt: skip
    entry = comfyui.run_prompt(graph(**custom))
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["outputs"]["5"]["text"][0].startswith("Custom: 3 steps, guidance 4 (1 polish @ 2), mu 0, std 1")


def test_a_size_that_is_not_a_multiple_of_16_is_refused_at_queue_time(comfyui: ComfyUI, repo: Path):
    status, body = comfyui.post("/prompt", {"prompt": graph(width=73)})
    assert status == 400, body
    errors = body["node_errors"]["5"]["errors"]
    assert errors[0]["type"] == "custom_validation_failed" and "not a positive multiple of 16" in errors[0]["details"]


def test_an_unknown_preset_is_refused_at_queue_time(comfyui: ComfyUI, repo: Path):
    """ComfyUI does not check DynamicCombo labels; the sampler's validator does, before anything runs."""
    prompt = graph()
    prompt["5"]["inputs"]["preset"] = "Fast"
    status, body = comfyui.post("/prompt", {"prompt": prompt})
    assert status == 400, body
    details = {error["details"] for error in body["node_errors"]["5"]["errors"]}
    assert any("Unknown preset 'Fast'; choose one of Default (20 steps)" in d and "Custom" in d for d in details)
    incomplete = {"preset": "Custom", "preset.steps": 3}  # ComfyUI itself names the missing Custom fields
    status, body = comfyui.post("/prompt", {"prompt": graph(**incomplete)})
    missing = {e["details"] for e in body["node_errors"]["5"]["errors"] if e["type"] == "required_input_missing"}
    assert status == 400 and missing == {"guidance", "polish_steps", "polish_guidance", "mu", "std"}, body
    stale = graph(**{"preset.steps": 3})  # a Custom field left over after switching to a preset is ignored
    entry = comfyui.run_prompt(stale)
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["outputs"]["5"]["text"][0].startswith("Turbo (12 steps): 12 steps")


def test_the_latent_round_trips_through_core_save_and_load_latent(comfyui: ComfyUI, repo: Path):
    """Our LATENT is ComfyUI's layout for this family: core SaveLatent/LoadLatent keep it, and decoding the
    reloaded latent gives the same image as decoding it directly."""
    prompt = graph()
    prompt["9"] = {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "ig4/roundtrip"}}
    prompt["10"] = {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "ig4/direct"}}
    entry = comfyui.run_prompt(prompt)
    assert entry["status"]["status_str"] == "success", entry["status"]
    saved = next((comfyui.base_dir / "output" / "ig4").glob("roundtrip_*.latent"))
    (comfyui.base_dir / "input" / saved.name).write_bytes(saved.read_bytes())
    reload = {
        "3": prompt["3"],
        "11": {"class_type": "LoadLatent", "inputs": {"latent": saved.name}},
        "12": {"class_type": "IG4_VAEDecode", "inputs": {"vae": ["3", 0], "samples": ["11", 0], "tiling": "auto"}},
        "13": {"class_type": "SaveImage", "inputs": {"images": ["12", 0], "filename_prefix": "ig4/reloaded"}},
    }
    entry = comfyui.run_prompt(reload)
    assert entry["status"]["status_str"] == "success", entry["status"]
    direct = next((comfyui.base_dir / "output" / "ig4").glob("direct_*.png"))
    reloaded = next((comfyui.base_dir / "output" / "ig4").glob("reloaded_*.png"))
    with Image.open(direct) as a, Image.open(reloaded) as b:
        assert a.size == b.size == (64, 48)
        assert np.array_equal(np.asarray(a), np.asarray(b))
