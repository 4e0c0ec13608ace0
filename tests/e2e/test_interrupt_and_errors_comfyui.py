"""Interrupting, failing and the headless client against a real ComfyUI, on the example API workflows and tiny
random models under the real file names: Cancel (`POST /interrupt`) during a long sampling run, a bad caption in
a strict Caption Builder, wrong model picks, and `tools/ideogram4_client.py` run as a command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.ideogram4_client import apply_overrides

from .comfyui_harness import REPO, ComfyUI, history_messages
from .model_files import FP8_MODEL, FP8_UNCONDITIONAL, VAE_FILE, placed_model_files

API = REPO / "example_workflows" / "api"
CLIENT = REPO / "tools" / "ideogram4_client.py"
SMALL = {"width": 256, "height": 256}


@pytest.fixture(scope="module")
def models(comfyui: ComfyUI) -> Iterator[Path]:
    with placed_model_files(comfyui.models_dir) as repo:
        yield repo


def example(name: str, **overrides) -> dict:
    return apply_overrides(json.loads((API / f"{name}.json").read_text(encoding="utf-8")), **overrides)


def node_id(prompt: dict, class_type: str) -> str:
    (key,) = [key for key, node in prompt.items() if node["class_type"] == class_type]
    return key


def client(comfyui: ComfyUI, *args: str) -> subprocess.Popen:
    command = [sys.executable, str(CLIENT), *args, "--server", comfyui.url, "--timeout", "120"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)


def test_interrupt_stops_a_long_run_and_the_server_keeps_answering(comfyui: ComfyUI, models: Path, tmp_path: Path):
    """1024×1024 with the 48-step preset takes minutes on the CPU; Cancel after the first step."""
    workflow = tmp_path / "long.json"
    prompt = example("ideogram4_single_files", width=1024, height=1024, preset="Quality (48 steps)", seed=11)
    workflow.write_text(json.dumps(prompt))
    process = client(comfyui, str(workflow), "--output", str(tmp_path / "out"))
    lines = []
    began = time.monotonic()
    for line in process.stdout:
        lines.append(line.rstrip())
        if "(IG4_Sampler) step 1/48" in line:
            assert comfyui.post("/interrupt", {})[0] == 200
    assert process.wait(timeout=60) == 1, lines
    assert time.monotonic() - began < 120
    sampler = node_id(prompt, "IG4_Sampler")
    assert lines[-1] == f"error: interrupted at node {sampler} (IG4_Sampler)", lines  # execution_interrupted
    assert not any("step 48/48" in line for line in lines)
    assert comfyui.get("/system_stats")[0] == 200
    entry = comfyui.run_prompt(example("ideogram4_single_files", **SMALL, preset="Turbo (12 steps)"))
    assert entry["status"]["status_str"] == "success", entry["status"]


def test_a_bad_caption_in_a_strict_builder_is_a_clear_execution_error(comfyui: ComfyUI, models: Path):
    invalid = {"compositional_deconstruction": {"elements": [{"type": "obj", "bbox": [500, 100, 100, 500]}]}}
    prompt = example("ideogram4_poster_caption_builder", caption=json.dumps(invalid), **SMALL)
    builder = node_id(prompt, "IG4_CaptionBuilder")
    prompt[builder]["inputs"]["strict"] = True
    entry = comfyui.run_prompt(prompt)
    (error,) = history_messages(entry, "execution_error")
    assert error["node_id"] == builder
    assert error["exception_message"].startswith("The caption is invalid (strict mode):")
    assert "y_min (500) is greater than y_max" in error["exception_message"]


def test_wrong_model_files_are_refused_with_the_reason(comfyui: ComfyUI, models: Path, tmp_path: Path):
    """A VAE dropped into diffusion_models is not offered (validation), a swapped pair stops on the loader."""
    misplaced = comfyui.models_dir / "diffusion_models" / VAE_FILE
    shutil.copyfile(comfyui.models_dir / "vae" / VAE_FILE, misplaced)
    try:
        check_wrong_model_files(comfyui, tmp_path)
    finally:
        misplaced.unlink()


def check_wrong_model_files(comfyui: ComfyUI, tmp_path: Path) -> None:
    prompt = example("ideogram4_single_files", **SMALL)
    loader = node_id(prompt, "IG4_ModelLoader")
    prompt[loader]["inputs"]["model"] = VAE_FILE
    status, body = comfyui.post("/prompt", {"prompt": prompt})
    assert status == 400, body
    (error,) = body["node_errors"][loader]["errors"]
    assert error["type"] == "value_not_in_list" and error["extra_info"]["input_name"] == "model"

    workflow = tmp_path / "vae_as_model.json"
    workflow.write_text(json.dumps(prompt))
    process = client(comfyui, str(workflow), "--output", str(tmp_path / "out"))
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 2, output
    assert f"node {loader} (IG4_ModelLoader) input model: Value not in list" in output

    prompt[loader]["inputs"].update(model=FP8_UNCONDITIONAL, unconditional_model="auto")
    entry = comfyui.run_prompt(prompt)
    (error,) = history_messages(entry, "execution_error")
    assert error["node_id"] == loader and f"Pick {FP8_MODEL} as the model" in error["exception_message"]


def test_the_client_runs_a_workflow_end_to_end(comfyui: ComfyUI, models: Path, tmp_path: Path):
    caption = tmp_path / "caption.json"
    caption.write_text(json.dumps({"compositional_deconstruction": {"background": "a calm sea", "elements": []}}))
    output = tmp_path / "out"
    args = ["--caption-file", str(caption), "--seed", "5", "--width", "256", "--height", "320"]
    custom = ["--steps", "4", "--polish-steps", "1", "--mu", "0.25"]  # the rest: the server's Custom defaults
    process = client(
        comfyui, str(API / "ideogram4_batch_caption_overlay.json"), *args, *custom, "--output", str(output)
    )
    text = process.communicate(timeout=120)[0]
    lines = text.splitlines()
    assert process.returncode == 0, text
    assert lines[0].startswith("queued ")
    assert any(
        "(IG4_Sampler): Custom: 4 steps, guidance 7 (1 polish @ 3), mu 0.25, std 1.75" in line for line in lines
    ), text
    assert any("(IG4_Sampler) step 4/4" in line for line in lines), text
    assert any("(IG4_VAEDecode) step 2/2" in line for line in lines), text
    saved = sorted((output / "ideogram4").glob("batch_*.png"))  # the server's subfolder is kept
    assert len(saved) == 2 and all(p.read_bytes().startswith(b"\x89PNG") for p in saved)
    assert [line for line in lines if line.startswith("saved ")] == [f"saved {p}" for p in saved]
