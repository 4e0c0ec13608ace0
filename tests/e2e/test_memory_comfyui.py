"""ComfyUI's memory controls with this pack: `POST /free` (unload the models, free the memory and the node cache)
between two identical runs, and a second server started with `--lowvram`, both give the image of a normal run.

ComfyUI refuses `--lowvram` together with `--cpu` (the harness's default), so the low-VRAM test needs a CUDA GPU
(`COMFYUI_E2E_CPU=0`; both servers then run on it) and is skipped as GPU-only otherwise."""

from __future__ import annotations

import time

import numpy as np

from ideogram4_core.demo import write_demo_model

from .comfyui_harness import ComfyUI, history_messages, saved_image
from .test_generation_comfyui import graph

SAVE = "9"


def saving_graph() -> dict:
    prompt = graph()
    prompt[SAVE] = {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "ig4/memory"}}
    return prompt


def demo_model(server: ComfyUI) -> None:
    repo = server.models_dir / "diffusers" / "ig4-demo"
    if not repo.is_dir():
        write_demo_model(repo)


def render(server: ComfyUI) -> tuple[np.ndarray, dict]:
    """(the saved image, the /history entry) of the demo graph."""
    demo_model(server)
    entry = server.run_prompt(saving_graph(), timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    return saved_image(server, entry, SAVE), entry


def test_free_between_two_identical_runs_gives_the_same_image(comfyui: ComfyUI):
    first, _ = render(comfyui)
    status, _ = comfyui.post("/free", {"unload_models": True, "free_memory": True})
    assert status == 200
    time.sleep(2)  # the idle worker wakes on the flag at once; the next prompt must not overtake it
    second, entry = render(comfyui)
    (cached,) = history_messages(entry, "execution_cached")
    assert cached["nodes"] == [], "free_memory resets the node cache: every node runs again"
    assert np.array_equal(first, second)
    assert comfyui.process.poll() is None


def test_a_lowvram_server_gives_the_image_of_a_normal_one(comfyui: ComfyUI, comfyui_lowvram: ComfyUI):
    status, stats = comfyui_lowvram.get("/system_stats")
    assert status == 200 and "--lowvram" in stats["system"]["argv"]
    low, _ = render(comfyui_lowvram)
    normal, _ = render(comfyui)
    assert np.array_equal(low, normal)
