"""Template thumbnails without ComfyUI: every example workflow has its same-name jpg, small, at the thumbnail size,
made from the workflow's current API twin (the SHA-256 in its JPEG comment). That the thumbnail is what ComfyUI
renders from the twin is checked in tests/e2e/test_workflows_comfyui.py; `tools/render_thumbnails.py` makes them.
"""

from __future__ import annotations

import copy

import pytest
from PIL import Image

from tools.render_thumbnails import (
    RENDER_SIZE,
    THUMBNAIL_SIZE,
    read_twin,
    thumbnail_comment,
    thumbnail_path,
    thumbnail_prompt,
    workflow_names,
)

NAMES = workflow_names()
MAX_BYTES = 16 * 1024
REGENERATE = "COMFYUI_PATH=/path/to/ComfyUI python -m tools.render_thumbnails"


def test_there_are_workflows():
    assert NAMES, "example_workflows/*.json not found"


@pytest.mark.parametrize("name", NAMES)
def test_every_workflow_has_its_thumbnail(name: str):
    path = thumbnail_path(name)
    assert path.is_file(), f"{path.name} is missing; make it with `{REGENERATE} {name}`"
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        comment = image.info.get("comment", b"").decode()
    assert comment == thumbnail_comment(read_twin(name)), f"{path.name} is stale; `{REGENERATE} {name}`"
    assert path.stat().st_size <= MAX_BYTES


def test_the_comment_follows_the_twin_not_its_formatting():
    twin = read_twin(NAMES[0])
    reordered = {key: twin[key] for key in reversed(list(twin))}
    assert thumbnail_comment(reordered) == thumbnail_comment(twin)
    changed = copy.deepcopy(twin)
    next(node for node in changed.values() if node["class_type"] == "IG4_Sampler")["inputs"]["seed"] += 1
    assert thumbnail_comment(changed) != thumbnail_comment(twin)


@pytest.mark.parametrize("name", NAMES)
def test_the_render_is_the_twin_plus_scale_overlay_and_preview(name: str):
    twin = read_twin(name)
    prompt, preview = thumbnail_prompt(twin)
    added = {key: node for key, node in prompt.items() if key not in twin}
    assert [node["class_type"] for node in added.values()] == ["ImageScale", "IG4_CaptionOverlay", "PreviewImage"]
    scale, overlay, shown = added.values()
    (save,) = [node for node in twin.values() if node["class_type"] == "SaveImage"]
    (encode,) = [node for node in twin.values() if node["class_type"] == "IG4_TextEncode"]
    assert scale["inputs"]["image"] == save["inputs"]["images"]
    assert (scale["inputs"]["width"], scale["inputs"]["height"]) == (THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    assert overlay["inputs"]["caption"] == encode["inputs"]["caption"]
    assert shown["inputs"]["images"] == [next(k for k, n in added.items() if n is overlay), 0]
    assert preview in added and added[preview] is shown
    sizes = []
    for sampler in (node["inputs"] for node in prompt.values() if node["class_type"] == "IG4_Sampler"):
        for side in ("width", "height"):
            value = sampler[side]  # a link: the Caption Builder's size drives the sampler
            sizes.append(prompt[value[0]]["inputs"][side] if isinstance(value, list) else value)
    assert sizes and set(sizes) == {RENDER_SIZE}


def test_a_workflow_without_one_save_image_is_refused():
    twin = read_twin(NAMES[0])
    (save,) = [key for key, node in twin.items() if node["class_type"] == "SaveImage"]
    doubled = copy.deepcopy(twin) | {"900": copy.deepcopy(twin[save])}
    with pytest.raises(ValueError, match="exactly one SaveImage node"):
        thumbnail_prompt(doubled)
    with pytest.raises(ValueError, match="thumbnail from, not 0"):
        thumbnail_prompt({key: node for key, node in twin.items() if key != save})
