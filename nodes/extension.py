"""The ComfyExtension that lists every node of the pack."""

from comfy_api.latest import ComfyExtension, io

from .caption_builder import IG4_CaptionBuilder
from .caption_list import IG4_CaptionList
from .caption_overlay import IG4_CaptionOverlay
from .element_mask import IG4_ElementMask
from .loaders import IG4_ModelLoader, IG4_TextEncoderLoader, IG4_VAELoader
from .lora import IG4_LoraLoader
from .magic_prompt import IG4_MagicPrompt
from .sampler import IG4_Sampler
from .text_encode import IG4_TextEncode
from .vae_decode import IG4_VAEDecode
from .vae_encode import IG4_VAEEncode


class Ideogram4Extension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [
            IG4_ModelLoader,
            IG4_LoraLoader,
            IG4_TextEncoderLoader,
            IG4_VAELoader,
            IG4_CaptionBuilder,
            IG4_CaptionList,
            IG4_TextEncode,
            IG4_Sampler,
            IG4_VAEDecode,
            IG4_CaptionOverlay,
            IG4_VAEEncode,
            IG4_ElementMask,
            IG4_MagicPrompt,
        ]
