"""Caption List in a real ComfyUI: N captions in one queued graph give N images, each equal to a single run of
that caption through the same Text Encode → Sampler → VAE Decode chain; a bad line stops the node by number."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from ideogram4_core.caption import dumps_canonical

from .comfyui_harness import ComfyUI, history_messages
from .test_generation_comfyui import graph, repo  # noqa: F401 (the tiny demo model fixture)

CAPTIONS = [
    {"compositional_deconstruction": {"background": "sky", "elements": [{"type": "obj", "desc": "a kite"}]}},
    "a red poster with the word SALE",
    {"compositional_deconstruction": {"background": "teal wall", "elements": []}},
]


def _saving(prompt: dict, prefix: str) -> dict:
    """The generation graph ending in Save Image instead of the overlay preview."""
    del prompt["7"], prompt["8"]
    prompt["9"] = {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": prefix}}
    return prompt


def _saved(comfyui: ComfyUI, entry: dict) -> list[np.ndarray]:
    """The images Save Image wrote for a prompt, in the order it wrote them."""
    images = entry["outputs"]["9"]["images"]
    folder = comfyui.base_dir / "output"
    return [np.asarray(Image.open(folder / image["subfolder"] / image["filename"])) for image in images]


def test_a_caption_list_renders_each_caption_as_a_single_run_would(comfyui: ComfyUI, repo: Path):  # noqa: F811
    lines = [json.dumps(c) if isinstance(c, dict) else c for c in CAPTIONS]
    prompt = _saving(graph(), "ig4/list")
    prompt["20"] = {"class_type": "IG4_CaptionList", "inputs": {"captions": "\n".join(["# three captions", *lines])}}
    prompt["4"]["inputs"]["caption"] = ["20", 0]
    entry = comfyui.run_prompt(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["outputs"]["20"]["text"] == ["3 captions (1 plain text)"]
    listed = _saved(comfyui, entry)
    assert len(listed) == len(CAPTIONS)
    for number, caption in enumerate(CAPTIONS):
        text = dumps_canonical(caption) if isinstance(caption, dict) else caption
        single = _saving(graph(), f"ig4/single_{number}")
        single["4"]["inputs"]["caption"] = text
        done = comfyui.run_prompt(single)
        assert done["status"]["status_str"] == "success", done["status"]
        (image,) = _saved(comfyui, done)
        assert np.array_equal(listed[number], image), number
    assert not np.array_equal(listed[0], listed[2])


def test_bad_lines_stop_the_node_with_their_numbers(comfyui: ComfyUI, repo: Path):  # noqa: F811
    prompt = _saving(graph(), "ig4/bad")
    prompt["20"] = {"class_type": "IG4_CaptionList", "inputs": {"captions": 'fine\n{"broken": \n[1]'}}
    prompt["4"]["inputs"]["caption"] = ["20", 0]
    entry = comfyui.run_prompt(prompt)
    assert entry["status"]["status_str"] == "error"
    (error,) = history_messages(entry, "execution_error")
    assert error["node_type"] == "IG4_CaptionList"
    assert (
        "line 2: not valid JSON" in error["exception_message"] and "line 3: a JSON array" in error["exception_message"]
    )
    comfyui.check_alive()
