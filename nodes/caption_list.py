"""``IG4_CaptionList`` — "Ideogram 4 · Caption List": a pasted list of captions → a list of caption STRINGs.

The output is a ComfyUI list (`is_output_list`): every node downstream (Text Encode, Sampler, VAE Decode, Save
Image) runs once per caption, so one queued graph renders the whole list. Parsing (JSONL, a JSON array, one
caption per line; bad lines named by number) is `ideogram4_core.caption.caption_list`.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..ideogram4_core.caption.caption_list import parse_caption_list


class IG4_CaptionList(io.ComfyNode):
    """Splits a caption list into captions that the nodes after it render one by one."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_CaptionList",
            display_name="Ideogram 4 · Caption List",
            category="Ideogram 4",
            description="Turns a list of captions (one per line as JSON or plain text, JSONL, or a JSON array) into "
            "a list, so the nodes after it render every caption in one run.",
            search_aliases=["ideogram", "caption list", "batch", "jsonl", "prompt list", "captions"],
            inputs=[
                io.String.Input("captions", multiline=True, default="",
                                tooltip="One caption per line (a JSON object or plain text), JSONL batch jobs "
                                "(their \"caption\" is used), or a JSON array. Blank and # lines are skipped."),
            ],
            outputs=[
                io.String.Output(display_name="captions", is_output_list=True,
                                 tooltip="The captions, one list item each (JSON in canonical form)."),
                io.Int.Output(display_name="count", tooltip="How many captions the list holds."),
            ],
        )  # fmt: skip

    @classmethod
    def execute(cls, captions: str) -> io.NodeOutput:
        items = parse_caption_list(captions)
        plain = sum(not item.lstrip().startswith("{") for item in items)
        status = f"{len(items)} caption{'s' * (len(items) != 1)}" + (f" ({plain} plain text)" if plain else "")
        return io.NodeOutput(items, len(items), ui={"text": [status]})
