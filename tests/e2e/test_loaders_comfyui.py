"""The loader nodes inside a real ComfyUI: combos list the model folders, loads are cached until a file changes,
and wrong picks are reported on the node while the server keeps running. Uses a tiny random Ideogram 4."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fixtures_checkpoints import FOREIGN, write_headers

from ideogram4_core.demo import write_demo_model

from .comfyui_harness import ComfyUI, history_messages

COND, UNCOND = "ig4_demo.safetensors", "ig4_demo_unconditional.safetensors"


@pytest.fixture(scope="module")
def repo(comfyui: ComfyUI) -> Path:
    """A demo repo under models/diffusers and its transformers as single files under models/diffusion_models."""
    repo = write_demo_model(comfyui.models_dir / "diffusers" / "ig4-demo")
    files = comfyui.models_dir / "diffusion_models"
    files.mkdir(exist_ok=True)
    for folder, name in (("transformer", COND), ("unconditional_transformer", UNCOND)):
        shutil.copyfile(next((repo / folder).glob("*.safetensors")), files / name)
    write_headers(files / "flux1-dev.safetensors", FOREIGN["flux1-dev.safetensors"][0])
    return repo


def options(comfyui: ComfyUI, node: str, name: str) -> list[str]:
    status, info = comfyui.get(f"/object_info/{node}")
    assert status == 200, info
    spec = info[node]["input"]["required"][name]
    return spec[1]["options"] if spec[0] == "COMBO" else spec[0]


def graph(model: str = "ig4-demo/", unconditional: str = "auto") -> dict:
    loaders = {
        "1": ("IG4_ModelLoader", {"model": model, "unconditional_model": unconditional, "weight_format": "auto",
                                  "compute_dtype": "auto", "block_streaming": "auto"}),
        "2": ("IG4_TextEncoderLoader", {"text_encoder": "ig4-demo/text_encoder/", "tokenizer": "auto",
                                        "compute_dtype": "auto"}),
        "3": ("IG4_VAELoader", {"vae": "ig4-demo/vae/"}),
    }  # fmt: skip
    prompt = {key: {"class_type": node, "inputs": inputs} for key, (node, inputs) in loaders.items()}
    for key in loaders:
        prompt[f"show{key}"] = {"class_type": "PreviewAny", "inputs": {"source": [key, 0]}}
    return prompt


def cached(entry: dict) -> set[str]:
    return {node for message in history_messages(entry, "execution_cached") for node in message["nodes"]}


def test_combos_list_the_model_folders(comfyui: ComfyUI, repo: Path):
    models = options(comfyui, "IG4_ModelLoader", "model")
    assert models == ["ig4-demo/", COND, UNCOND]  # FLUX.1 in the same folder is not offered
    assert options(comfyui, "IG4_ModelLoader", "unconditional_model") == ["auto", "none", *models]
    assert options(comfyui, "IG4_TextEncoderLoader", "text_encoder") == ["ig4-demo/text_encoder/"]
    tokenizers = options(comfyui, "IG4_TextEncoderLoader", "tokenizer")
    assert tokenizers[:2] == ["auto", "ig4-demo/tokenizer/"] and "ComfyUI bundled Qwen tokenizer" in tokenizers
    assert options(comfyui, "IG4_VAELoader", "vae") == ["ig4-demo/vae/"]


@pytest.mark.parametrize("model", ["ig4-demo/", COND])
def test_loads_are_cached_until_a_file_changes(comfyui: ComfyUI, repo: Path, model: str):
    first = comfyui.run_prompt(graph(model))
    assert first["status"]["status_str"] == "success", first["status"]
    text = first["outputs"]["1"]["text"][0]
    assert "cond: " in text and "uncond: " in text and "compute: float32" in text
    again = comfyui.run_prompt(graph(model))
    assert {"1", "2", "3"} <= cached(again)
    changed = repo / "unconditional_transformer" if model.endswith("/") else comfyui.models_dir / "diffusion_models"
    for file in changed.glob("*.safetensors"):
        os.utime(file)
    reloaded = comfyui.run_prompt(graph(model))
    assert reloaded["status"]["status_str"] == "success" and "1" not in cached(reloaded)
    assert {"2", "3"} <= cached(reloaded)


def test_wrong_picks_are_node_errors(comfyui: ComfyUI, repo: Path):
    entry = comfyui.run_prompt(graph(UNCOND))
    (error,) = history_messages(entry, "execution_error")
    assert error["node_id"] == "1" and "swapped" in error["exception_message"]
    assert f"Pick {COND} as the model" in error["exception_message"]
    entry = comfyui.run_prompt(graph(COND, unconditional=COND))
    (error,) = history_messages(entry, "execution_error")
    assert "both the model and the unconditional model" in error["exception_message"]
    status, body = comfyui.post("/prompt", {"prompt": graph("flux1-dev.safetensors")})  # the other loaders still run
    assert status == 200 and body["node_errors"]["1"]["errors"][0]["type"] == "value_not_in_list"
    comfyui.wait_history(body["prompt_id"])
    assert comfyui.run_prompt(graph(COND, unconditional="none"))["status"]["status_str"] == "success"


def test_weight_formats_keep_the_former_fp8_matmul_option(comfyui: ComfyUI, repo: Path):
    """The combo offers auto and exact fp8; a saved workflow's "auto + fp8 matmul" still queues and runs (it now
    means auto), while a value that never existed is refused at queue time."""
    assert options(comfyui, "IG4_ModelLoader", "weight_format") == ["auto", "exact fp8"]
    for weight_format in ("exact fp8", "auto + fp8 matmul"):
        prompt = graph()
        prompt["1"]["inputs"]["weight_format"] = weight_format
        entry = comfyui.run_prompt(prompt)
        assert entry["status"]["status_str"] == "success", entry["status"]
    prompt = {key: node for key, node in graph().items() if key in ("1", "show1")}  # nothing else to run
    prompt["1"]["inputs"]["weight_format"] = "fast"
    status, body = comfyui.post("/prompt", {"prompt": prompt})
    assert status == 400, body
    (error,) = body["node_errors"]["1"]["errors"]
    assert "Unknown weight format 'fast'; choose one of auto, exact fp8." in error["details"], error
