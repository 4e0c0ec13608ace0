"""The example workflows in a real ComfyUI: built in the real frontend, listed as the pack's templates, loaded
back and converted by the frontend to their stored API twins, and each twin run through `POST /prompt` to a
saved image on tiny random models stored under the real file names.

`IG4_WRITE_WORKFLOWS=1` rewrites `example_workflows/*.json` and `example_workflows/api/*.json` from the specs in
`workflow_specs.py` (what `app.graph.serialize()` and `app.graphToPrompt()` return); without it the test checks
that the frontend still builds exactly the stored files. Screenshots: `test-artifacts/workflow_*.png`.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ideogram4_core.caption.elements import element_boxes
from ideogram4_core.sampling.masks import box_mask
from tools.ideogram4_client import apply_overrides

from .comfyui_harness import ARTIFACTS, PACK_DIR_NAME, REPO, ComfyPage, ComfyUI
from .model_files import placed_model_files
from .workflow_specs import (
    EDITED_POSTER_CAPTION,
    HEADLINE,
    INPAINT,
    OUTPAINT,
    PICTURE,
    POSTER_PICTURE,
    SPECS,
    TRANSPARENT_PICTURE,
    WorkflowSpec,
)

WORKFLOWS = REPO / "example_workflows"
PACK_NODES = {
    "IG4_ModelLoader",
    "IG4_TextEncoderLoader",
    "IG4_TextEncode",
    "IG4_CaptionBuilder",
    "IG4_Sampler",
    "IG4_VAELoader",
    "IG4_VAEDecode",
    "IG4_CaptionOverlay",
    "IG4_LoraLoader",
    "IG4_VAEEncode",
    "IG4_ElementMask",
}
WRITE = os.environ.get("IG4_WRITE_WORKFLOWS") == "1"
SIZE = 256  # every run: the smallest size, quick on the CPU; the editing examples' pictures have it too
HOLE = (slice(96, 160), slice(64, 192))  # rows, columns of the masked picture's transparent area

BUILD_JS = """spec => {
  app.graph.clear();
  const byKey = {};
  for (const n of spec.nodes) {
    const node = LiteGraph.createNode(n.type);
    if (!node) throw new Error(`unknown node type ${n.type}`);
    node.pos = n.pos;
    app.graph.add(node);
    for (const [name, value] of Object.entries(n.widgets)) {
      const widget = node.widgets?.find(w => w.name === name);
      if (!widget) throw new Error(`${n.type} has no widget ${name}`);
      widget.value = value;
      widget.callback?.(value);
    }
    if (n.size) node.setSize(n.size);
    byKey[n.key] = node;
  }
  for (const [from, slot, to, input] of spec.links) {
    const index = byKey[to].findInputSlot(input);
    if (index < 0) throw new Error(`${byKey[to].type} has no input ${input}`);
    if (!byKey[from].connect(slot, byKey[to], index)) throw new Error(`cannot link ${from} to ${to}.${input}`);
  }
  return app.graph.serialize();
}"""
FIT_VIEW_JS = """() => {
  const nodes = app.graph.nodes;
  const left = Math.min(...nodes.map(n => n.pos[0])), top = Math.min(...nodes.map(n => n.pos[1] - 30));
  const right = Math.max(...nodes.map(n => n.pos[0] + n.size[0]));
  const bottom = Math.max(...nodes.map(n => n.pos[1] + n.size[1]));
  const canvas = app.canvas.canvas, [marginLeft, marginTop, margin] = [80, 60, 20];
  const scale = Math.min((canvas.clientWidth - marginLeft - margin) / (right - left),
                         (canvas.clientHeight - marginTop - margin) / (bottom - top), 1);
  app.canvas.ds.scale = scale;
  app.canvas.ds.offset = [marginLeft / scale - left, marginTop / scale - top];
  app.canvas.setDirty(true, true);
}"""


def ui_path(name: str) -> Path:
    return WORKFLOWS / f"{name}.json"


def api_path(name: str) -> Path:
    return WORKFLOWS / "api" / f"{name}.json"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def models(comfyui: ComfyUI) -> Iterator[Path]:
    with placed_model_files(comfyui.models_dir) as repo:
        yield repo


def example_picture(seed: int) -> Image.Image:
    """A SIZE×SIZE RGB picture with gradients and shapes (edges that a blurred result would not reproduce)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, SIZE, dtype=np.float32)
    pixels = np.stack([ramp[None, :].repeat(SIZE, 0), ramp[:, None].repeat(SIZE, 1), np.full((SIZE, SIZE), 96.0)])
    picture = Image.fromarray(pixels.transpose(1, 2, 0).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(6):
        x, y = rng.integers(0, SIZE - 64, 2)
        draw.ellipse((x, y, x + 64, y + 48), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return picture


@pytest.fixture(scope="module")
def pictures(comfyui: ComfyUI) -> Iterator[dict[str, Image.Image]]:
    """The editing examples' pictures in ComfyUI's input folder (the masked one transparent over HOLE)."""
    masked = example_picture(0).convert("RGBA")
    alpha = np.full((SIZE, SIZE), 255, np.uint8)
    alpha[HOLE] = 0
    masked.putalpha(Image.fromarray(alpha))
    files = {PICTURE: example_picture(0), POSTER_PICTURE: example_picture(1), TRANSPARENT_PICTURE: masked}
    folder = comfyui.base_dir / "input"
    for name, picture in files.items():
        picture.save(folder / name)
    yield files
    for name in files:
        (folder / name).unlink()


def graph_to_prompt(page: ComfyPage) -> dict:
    return page.page.evaluate("async () => (await app.graphToPrompt()).output")


def build(page: ComfyPage, spec: WorkflowSpec) -> tuple[dict, dict]:
    """Build the spec in the frontend; (the UI workflow as saved after a reload, its API prompt)."""
    page.open()
    page.load(page.page.evaluate(BUILD_JS, spec.as_js()))
    return page.serialize(), graph_to_prompt(page)


def comparable(workflow: dict) -> dict:
    """A UI workflow without what differs between two builds of the same graph (its random id)."""
    return {key: value for key, value in workflow.items() if key != "id"}


def test_object_info_has_every_node_of_the_pack(comfyui: ComfyUI):
    status, info = comfyui.get("/object_info")
    assert status == 200
    assert set(info) >= PACK_NODES, PACK_NODES - set(info)
    for node in PACK_NODES:
        assert info[node]["category"] == "Ideogram 4" and info[node]["display_name"].startswith("Ideogram 4 · ")


def test_examples_are_the_packs_templates(comfyui: ComfyUI):
    status, templates = comfyui.get("/workflow_templates")
    assert status == 200, templates
    assert sorted(templates[PACK_DIR_NAME]) == sorted(spec.name for spec in SPECS)
    for spec in SPECS:
        status, served = comfyui.get(f"/api/workflow_templates/{PACK_DIR_NAME}/{spec.name}.json")
        assert status == 200 and served == read_json(ui_path(spec.name))


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_the_frontend_builds_the_stored_workflow(
    comfy_page: ComfyPage, models: Path, pictures: dict, spec: WorkflowSpec
):
    workflow, prompt = build(comfy_page, spec)
    if WRITE:
        write_json(ui_path(spec.name), workflow)
        write_json(api_path(spec.name), prompt)
    assert comparable(workflow) == comparable(read_json(ui_path(spec.name)))
    assert prompt == read_json(api_path(spec.name))


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_a_stored_workflow_loads_and_converts_to_its_api_twin(
    comfy_page: ComfyPage, models: Path, pictures: dict, spec: WorkflowSpec
):
    comfy_page.open()
    comfy_page.set_setting("Comfy.Minimap.Visible", False)
    comfy_page.load(read_json(ui_path(spec.name)))
    comfy_page.page.evaluate(FIT_VIEW_JS)
    comfy_page.page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    comfy_page.page.screenshot(path=str(ARTIFACTS / f"workflow_{spec.name}.png"))
    assert graph_to_prompt(comfy_page) == read_json(api_path(spec.name))


def run_to_saved_images(comfyui: ComfyUI, spec: WorkflowSpec) -> list[dict]:
    """Run the API twin at SIZE×SIZE, everything else as stored; the Save Image node's images."""
    prompt = apply_overrides(read_json(api_path(spec.name)), width=SIZE, height=SIZE)
    entry = comfyui.run_prompt(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    (save,) = [key for key, node in prompt.items() if node["class_type"] == "SaveImage"]
    images = entry["outputs"][save]["images"]
    assert images and all(image["type"] == "output" for image in images)
    return images


def saved_pixels(comfyui: ComfyUI, image: dict) -> np.ndarray:
    return np.asarray(Image.open(comfyui.base_dir / "output" / image["subfolder"] / image["filename"]))


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_api_twin_runs_to_a_saved_image(comfyui: ComfyUI, models: Path, pictures: dict, spec: WorkflowSpec):
    images = run_to_saved_images(comfyui, spec)
    query = urllib.parse.urlencode({k: images[0][k] for k in ("filename", "subfolder", "type")})
    status, body = comfyui.request("GET", f"/view?{query}")
    assert status == 200 and isinstance(body, str) and body.startswith("\ufffdPNG")


def _kept_area(spec: WorkflowSpec) -> tuple[str, np.ndarray]:
    """(the picture, where the workflow must keep its pixels exactly) for an editing example at SIZE×SIZE."""
    kept = np.ones((SIZE, SIZE), bool)
    if spec is INPAINT:
        kept[HOLE] = False
        return TRANSPARENT_PICTURE, kept
    if spec is HEADLINE:
        caption = json.dumps(EDITED_POSTER_CAPTION)
        return POSTER_PICTURE, box_mask(element_boxes(caption, [1]), (SIZE, SIZE), 16)[0].numpy() == 0
    kept[:, SIZE - 32 :] = False  # outpaint: the pad's 32-pixel feathering reaches into the picture
    return PICTURE, kept


@pytest.mark.parametrize("spec", [INPAINT, HEADLINE, OUTPAINT], ids=lambda spec: spec.name)
def test_editing_examples_keep_every_pixel_outside_the_mask(
    comfyui: ComfyUI, models: Path, pictures: dict, spec: WorkflowSpec
):
    """Image Composite Masked after the sampler: outside the mask the result is the picture, pixel for pixel;
    inside it the sampler painted something else."""
    name, kept = _kept_area(spec)
    original = np.asarray(pictures[name].convert("RGB"))
    result = saved_pixels(comfyui, run_to_saved_images(comfyui, spec)[0])
    if spec is OUTPAINT:
        assert result.shape == (SIZE, 2 * SIZE, 3)  # 256 pixels added on the right, over core's grey (0.5)
        painted, result = result[:, SIZE:].astype(int) - 128, result[:, :SIZE]
    else:
        painted = result[~kept].astype(int) - original[~kept]
    assert np.array_equal(result[kept], original[kept])
    assert np.abs(painted).mean() > 1
