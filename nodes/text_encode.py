"""``IG4_TextEncode`` — "Ideogram 4 · Text Encode": caption STRING → IDEOGRAM4_CONDITIONING.

Shows the exact token count and the caption's problems (the official verifier's rules; they warn, generation
still runs) under the node. Empty or over-long captions stop with an error. ComfyUI's cache skips the node
for an unchanged caption and encoder; an in-process LRU also keeps recent encodings per encoder, so going back
to an earlier caption does not encode it again. The encoder is on the device only while encoding.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..ideogram4_core.caption import verify_text
from ..ideogram4_core.models.tokenizer import MAX_CAPTION_TOKENS
from . import comfy_adapter as comfy
from .conditioning import EncodingCache, Ideogram4Conditioning
from .sockets import Ideogram4ConditioningSocket, Ideogram4TextEncoderSocket
from .types import Ideogram4TextEncoderModel

MAX_PROBLEM_LINES = 8
_cache = EncodingCache()


def caption_notes(caption: str) -> list[str]:
    """What the verifier says about the caption, one line per problem (at most MAX_PROBLEM_LINES)."""
    verification = verify_text(caption)
    if verification.caption is None:
        return ["plain-text caption (not JSON): it works, but the model was trained on the JSON caption format"]
    lines = [p.line() for p in verification.problems]
    if len(lines) > MAX_PROBLEM_LINES:
        lines = [*lines[:MAX_PROBLEM_LINES], f"… and {len(lines) - MAX_PROBLEM_LINES} more"]
    return lines


def encode(text_encoder: Ideogram4TextEncoderModel, caption: str) -> tuple[Ideogram4Conditioning, bool]:
    """The conditioning for one caption, and whether it came from the cache."""
    token_count = len(text_encoder.tokenizer.token_ids(caption))  # refuses empty and over-long captions
    features = _cache.get(text_encoder, caption)
    cached = features is not None
    if not cached:
        offload = text_encoder.patcher.offload_device
        with comfy.models_on_device([text_encoder.patcher]):
            comfy.check_interrupted()
            features = text_encoder.encoder().encode([caption])[0].to(offload)
        _cache.put(text_encoder, caption, features)
    return Ideogram4Conditioning((features,), (caption,), (token_count,)), cached


class IG4_TextEncode(io.ComfyNode):
    """Encodes an Ideogram 4 caption with the Qwen3-VL text encoder."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_TextEncode",
            display_name="Ideogram 4 · Text Encode",
            category="Ideogram 4",
            description="Encodes a caption (ideally the JSON caption format) for the Ideogram 4 sampler; shows the "
            "exact token count and any caption problems.",
            search_aliases=["ideogram", "text encode", "prompt", "caption", "clip text encode"],
            inputs=[
                Ideogram4TextEncoderSocket.Input("text_encoder"),
                io.String.Input(
                    "caption",
                    multiline=True,
                    default="",
                    tooltip=f"The caption: JSON from the Caption Builder, or plain text. At most "
                    f"{MAX_CAPTION_TOKENS} tokens with the chat template.",
                ),
            ],
            outputs=[Ideogram4ConditioningSocket.Output(display_name="conditioning")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, text_encoder: Ideogram4TextEncoderModel, caption: str) -> io.NodeOutput:
        conditioning, cached = encode(text_encoder, caption)
        count = conditioning.token_counts[0]
        head = f"{count} tokens (limit {MAX_CAPTION_TOKENS})" + (" · reused encoding" if cached else "")
        text = "\n".join([head, *caption_notes(caption)])
        comfy.send_status(cls.hidden.unique_id, head)
        return io.NodeOutput(conditioning, ui={"text": [text]})
