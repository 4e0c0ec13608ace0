"""The ComfyExtension that lists every node of the pack."""

from comfy_api.latest import ComfyExtension, io

from .caption_builder import IG4_CaptionBuilder
from .loaders import IG4_ModelLoader, IG4_TextEncoderLoader, IG4_VAELoader


class Ideogram4Extension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [IG4_ModelLoader, IG4_TextEncoderLoader, IG4_VAELoader, IG4_CaptionBuilder]
