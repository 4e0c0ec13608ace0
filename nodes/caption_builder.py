"""``IG4_CaptionBuilder`` — "Ideogram 4 · Caption Builder": the visual editor's node (thin shell over the engine).

Inputs: ``width``/``height`` (multiples of 16), ``document`` (STRING, written by the web editor), ``strict``
(Boolean); optional ``caption`` (STRING from upstream, e.g. an LLM: forgivingly imported and, when non-empty,
used instead of the document's caption) and ``reference_image`` (IMAGE shown under the editor's canvas).
Outputs: the canonical caption STRING, width, height, and ``edit_elements`` (STRING, e.g. ``"2,5"``: the
1-based numbers of the elements ticked for re-rendering, for ``IG4_ElementMask``; appended last so saved
workflows keep their links). ``reference_image`` is the underlay the elements are ticked on.

Document format (the ``document`` widget's JSON text)::

    {"caption": {<caption object>}, "editor": {<web widget state; never read by the backend>},
     "edit_elements": [2, 5]}

A bare caption object or caption text is accepted too; "" means no caption yet. Anything the output must
contain belongs in ``caption`` (e.g. hidden elements live in ``editor`` and are left out of ``caption``).

UI payload sent back after a run: ``{"text": [status lines], "caption": [canonical caption],
"images": [...] (the reference image, when connected)}`` — the widget can load ``caption`` after an import.
Tokenizer for exact token counts: ``$IDEOGRAM4_TOKENIZER``, else ComfyUI's bundled Qwen tokenizer.
"""

from __future__ import annotations

from typing import Any

from comfy_api.latest import io, ui

from ..ideogram4_core.caption import build_caption, configured_tokenizer_dir
from .routes import register_routes


class IG4_CaptionBuilder(io.ComfyNode):
    """Builds the Ideogram 4 JSON caption from the visual editor's document or an imported caption."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        size = {"default": 1024, "min": 256, "max": 2048, "step": 16}
        return io.Schema(
            node_id="IG4_CaptionBuilder",
            display_name="Ideogram 4 · Caption Builder",
            category="Ideogram 4",
            description="Draw boxes, palettes and text on a canvas; outputs the canonical JSON caption.",
            search_aliases=["ideogram", "caption", "bbox", "json prompt", "prompt builder"],
            inputs=[
                io.Int.Input("width", **size, tooltip="Image width (multiple of 16)."),
                io.Int.Input("height", **size, tooltip="Image height (multiple of 16)."),
                io.String.Input("document", multiline=True, default="", tooltip="Editor state, written by the editor."),
                io.Boolean.Input(
                    "strict",
                    default=False,
                    tooltip="On: stop on any caption error. Off: repair what is safe and show the rest as warnings.",
                ),
                io.String.Input(
                    "caption",
                    optional=True,
                    force_input=True,
                    tooltip="Caption to import (e.g. from an LLM); replaces the editor's caption when not empty.",
                ),
                io.Image.Input("reference_image", optional=True, tooltip="Shown under the editor's canvas."),
            ],
            outputs=[
                io.String.Output(display_name="caption"),
                io.Int.Output(display_name="width"),
                io.Int.Output(display_name="height"),
                io.String.Output(
                    display_name="edit_elements",
                    tooltip='Element numbers ticked for re-rendering ("2,5"), for the element mask.',
                ),
            ],
        )

    @classmethod
    def execute(
        cls,
        width: int,
        height: int,
        document: str,
        strict: bool,
        caption: str | None = None,
        reference_image: Any = None,
    ) -> io.NodeOutput:
        result = build_caption(
            document, width, height, strict=strict, import_text=caption or "", tokenizer_dir=configured_tokenizer_dir()
        )
        payload: dict[str, Any] = {"text": ["\n".join(result.lines)], "caption": [result.caption]}
        if reference_image is not None:
            payload |= ui.PreviewImage(reference_image, cls=cls).as_dict()
        return io.NodeOutput(result.caption, result.width, result.height, result.edit_elements, ui=payload)


register_routes(configured_tokenizer_dir)
