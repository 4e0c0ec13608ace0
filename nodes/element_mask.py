"""``IG4_ElementMask`` — "Ideogram 4 · Element Mask": caption + element numbers + margin → MASK.

The mask covers the boxes of the numbered caption elements (1-based, the Caption Builder's numbering, e.g.
"2,5" from its `edit_elements` output), each widened by `margin` pixels, at the image size. Feed it to core's
Set Latent Noise Mask to re-render only those elements, and to Image Composite Masked to keep every other pixel.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..ideogram4_core.caption.elements import element_boxes, parse_element_numbers
from ..ideogram4_core.sampling.masks import box_mask


class IG4_ElementMask(io.ComfyNode):
    """A mask over chosen caption elements' boxes, for re-rendering them in place."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        size = {"default": 1024, "min": 16, "max": 16384, "step": 16}
        return io.Schema(
            node_id="IG4_ElementMask",
            display_name="Ideogram 4 · Element Mask",
            category="Ideogram 4",
            description="A mask over the boxes of the chosen caption elements (plus a margin), to re-render only "
            "those elements of an image.",
            search_aliases=["ideogram", "mask", "bbox", "element", "inpaint"],
            inputs=[
                io.String.Input("caption", force_input=True, tooltip="The JSON caption with the elements' boxes."),
                io.String.Input("elements", default="1",
                                tooltip="Element numbers to re-render, 1-based and comma-separated, e.g. 2,5."),
                io.Int.Input("margin", default=16, min=0, max=512, tooltip="Pixels added around every box."),
                io.Int.Input("width", **size, tooltip="Image width in pixels."),
                io.Int.Input("height", **size, tooltip="Image height in pixels."),
            ],
            outputs=[io.Mask.Output(display_name="mask")],
        )  # fmt: skip

    @classmethod
    def execute(cls, caption: str, elements: str, margin: int, width: int, height: int) -> io.NodeOutput:
        numbers = parse_element_numbers(elements)
        mask = box_mask(element_boxes(caption, numbers), (width, height), margin)
        covered = mask.mean().item() * 100
        status = f"element(s) {', '.join(map(str, numbers))}: {covered:.0f}% of the image"
        return io.NodeOutput(mask, ui={"text": [status]})
