"""Template thumbnails for `example_workflows/`: each workflow's API twin, run in a real ComfyUI, as a small jpg.

A thumbnail is what the workflow's API twin (`example_workflows/api/NAME.json`) renders on the tiny random models
the e2e suite stores under the real file names (the editing examples load the e2e suite's pictures): the images
its Save Image node gets, at 256×256 (the smallest size) with every other input as stored, scaled to 160×160 by
core's Image Scale and with the caption's element boxes drawn by the pack's Caption Overlay, all inside ComfyUI.
The random weights make the picture noise-like; the boxes show the workflow's layout. It is written as
`example_workflows/NAME.jpg` (ComfyUI's template convention: the thumbnail has the workflow's name), and its JPEG
comment records the SHA-256 of the twin it came from, so the tests notice a thumbnail that no longer matches its
workflow.

    COMFYUI_PATH=/path/to/ComfyUI python -m tools.render_thumbnails [NAME ...]

Run from the repository root with the test extra installed; the server is started as in tests/e2e (same
environment: COMFYUI_PYTHON, COMFYUI_E2E_PYTHONPATH, …). Without names, every workflow gets its thumbnail.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from tools.ideogram4_client import Prompt, apply_overrides

WORKFLOWS = Path(__file__).resolve().parents[1] / "example_workflows"
RENDER_SIZE = 256
THUMBNAIL_SIZE = 160
JPEG_QUALITY = 60
SCALE_METHOD = "lanczos"


class Server(Protocol):
    """What rendering needs of a running ComfyUI (tests/e2e/comfyui_harness.py's `ComfyUI`)."""

    def run_prompt(self, prompt: dict, *, timeout: float = 120) -> dict: ...

    def raw_request(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> tuple[int, bytes]: ...


def read_twin(name: str) -> Prompt:
    return json.loads((WORKFLOWS / "api" / f"{name}.json").read_text(encoding="utf-8"))


def thumbnail_path(name: str) -> Path:
    return WORKFLOWS / f"{name}.jpg"


def thumbnail_comment(twin: Prompt) -> str:
    """The JPEG comment of the thumbnail made from `twin`: the SHA-256 of its canonical JSON."""
    canonical = json.dumps(twin, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"Ideogram 4 template thumbnail of API twin sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"


def thumbnail_prompt(twin: Prompt) -> tuple[Prompt, str]:
    """The twin at the render size plus Image Scale → Caption Overlay → Preview Image on what its Save Image gets;
    (the prompt, the id of that Preview Image)."""
    prompt = apply_overrides(twin, width=RENDER_SIZE, height=RENDER_SIZE)
    saves = [node for node in prompt.values() if node["class_type"] == "SaveImage"]
    if len(saves) != 1:
        raise ValueError(f"a template needs exactly one SaveImage node to take its thumbnail from, not {len(saves)}")
    captions = [node["inputs"]["caption"] for node in prompt.values() if node["class_type"] == "IG4_TextEncode"]
    first_free = 1 + max(int(key) for key in prompt if key.isdigit())
    scale, overlay, preview = (str(first_free + i) for i in range(3))
    size = {"width": THUMBNAIL_SIZE, "height": THUMBNAIL_SIZE}
    prompt[scale] = _node("ImageScale", image=saves[0]["inputs"]["images"], upscale_method=SCALE_METHOD, crop="center")
    prompt[scale]["inputs"] |= size
    shown = [scale, 0]
    if captions:
        prompt[overlay] = _node("IG4_CaptionOverlay", image=shown, caption=captions[0])
        shown = [overlay, 0]
    prompt[preview] = _node("PreviewImage", images=shown)
    return prompt, preview


def _node(class_type: str, **inputs: Any) -> dict[str, Any]:
    return {"class_type": class_type, "inputs": inputs}


def render_thumbnail(server: Server, twin: Prompt, *, timeout: float = 300) -> bytes:
    """The thumbnail of `twin` rendered by `server`, as JPEG bytes."""
    prompt, preview = thumbnail_prompt(twin)
    entry = server.run_prompt(prompt, timeout=timeout)
    if entry["status"]["status_str"] != "success":
        raise RuntimeError(f"the workflow failed in ComfyUI: {entry['status']}")
    image = entry["outputs"][preview]["images"][0]
    query = urllib.parse.urlencode({key: image[key] for key in ("filename", "subfolder", "type")})
    status, png = server.raw_request("GET", f"/view?{query}")
    if status != 200:
        raise RuntimeError(f"ComfyUI did not serve the rendered image: HTTP {status}")
    out = io.BytesIO()
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    picture.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, comment=thumbnail_comment(twin))
    return out.getvalue()


def workflow_names() -> list[str]:
    return sorted(path.stem for path in WORKFLOWS.glob("*.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="workflow names (default: every example_workflows/*.json)")
    args = parser.parse_args(argv)
    names = args.names or workflow_names()
    unknown = [name for name in names if not (WORKFLOWS / "api" / f"{name}.json").is_file()]
    if unknown:
        parser.error(f"no API twin example_workflows/api/NAME.json for {', '.join(unknown)}")
    if not os.environ.get("COMFYUI_PATH"):
        parser.error("set COMFYUI_PATH to a ComfyUI checkout (see tests/e2e/README.md)")
    # The e2e harness starts the server and writes the tiny models and the editing examples' pictures; imported
    # here, as only rendering needs them.
    from tests.e2e.comfyui_harness import comfyui_path, running_comfyui
    from tests.e2e.example_pictures import placed_pictures
    from tests.e2e.model_files import placed_model_files

    with (
        tempfile.TemporaryDirectory() as base,
        running_comfyui(comfyui_path(), Path(base), {}) as server,
        placed_model_files(server.models_dir),
        placed_pictures(server.base_dir / "input"),
    ):
        for name in names:
            thumbnail_path(name).write_bytes(render_thumbnail(server, read_twin(name)))
            print(f"wrote {thumbnail_path(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
