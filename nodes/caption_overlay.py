"""``IG4_CaptionOverlay`` — "Ideogram 4 · Caption Overlay": draws a caption's element boxes on images.

Each boxed element gets its outline and a label ``#i type: text`` (drawing: `ideogram4_core.caption.overlay`).
The caption is imported forgivingly (code fences, pixel boxes, …) at the image's size; a caption that is not
JSON leaves the images unchanged and says so.
"""

from __future__ import annotations

import torch
from comfy_api.latest import io

from ..ideogram4_core.caption import import_caption
from ..ideogram4_core.caption.overlay import draw_overlay, element_boxes
from ..ideogram4_core.images import pil_to_unit, unit_to_pil


class IG4_CaptionOverlay(io.ComfyNode):
    """Shows where a caption puts its elements, on top of an image."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_CaptionOverlay",
            display_name="Ideogram 4 · Caption Overlay",
            category="Ideogram 4",
            description="Draws each caption element's box, index, type and text on the image (bbox "
            "[y_min, x_min, y_max, x_max] in 0–1000).",
            search_aliases=["ideogram", "bbox", "boxes", "overlay", "layout"],
            inputs=[
                io.Image.Input("image"),
                io.String.Input("caption", multiline=True, default="", tooltip="The JSON caption whose boxes to draw."),
            ],
            outputs=[io.Image.Output(display_name="image")],
        )

    @classmethod
    def execute(cls, image: torch.Tensor, caption: str) -> io.NodeOutput:
        height, width = image.shape[1:3]
        parsed = import_caption(caption, (width, height)).caption
        if parsed is None:
            return io.NodeOutput(image, ui={"text": ["the caption is not JSON: nothing to draw"]})
        drawn = torch.stack([pil_to_unit(draw_overlay(unit_to_pil(i), parsed)) for i in image]).to(image.device)
        count = len(element_boxes(parsed, width, height))
        return io.NodeOutput(drawn, ui={"text": [f"{count} boxed element{'s' * (count != 1)} drawn"]})
