"""``IG4_VAEEncode`` — "Ideogram 4 · VAE Encode": IMAGE → Ideogram 4 LATENT, for img2img and inpainting.

The image is encoded with the FLUX.2 encoder's latent mean (deterministic) and normalised with Ideogram's
statistics, the inverse of `IG4_VAEDecode`; sides that are not multiples of 16 are resized or cropped. An image
encodes in tiles when the memory estimate says the whole does not fit, or when the whole runs out of memory.
A mask (core's Set Latent Noise Mask, or Load Image's mask from the mask editor) can then be added to the
LATENT; `IG4_Sampler` honours it.
"""

from __future__ import annotations

import torch
from comfy_api.latest import io

from ..ideogram4_core.editing import encode_image, fit_to_grid
from ..ideogram4_core.models.vae import Flux2VAE
from ..ideogram4_core.models.vae_tiling import encode_memory_bytes
from ..ideogram4_core.sampling.latents import token_grid, tokens_to_comfy
from . import comfy_adapter as comfy
from .sockets import Ideogram4VAESocket
from .types import Ideogram4VAE

FITS = ["resize", "crop"]


class IG4_VAEEncode(io.ComfyNode):
    """Encodes images into Ideogram 4 latents with the FLUX.2 VAE encoder."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_VAEEncode",
            display_name="Ideogram 4 · VAE Encode",
            category="Ideogram 4",
            description="Encodes an image into an Ideogram 4 LATENT (the FLUX.2 encoder's mean, Ideogram's latent "
            "statistics) for image-to-image and inpainting.",
            search_aliases=["ideogram", "vae encode", "encode", "img2img", "inpaint"],
            inputs=[
                Ideogram4VAESocket.Input("vae"),
                io.Image.Input("image"),
                io.Combo.Input(
                    "fit",
                    options=FITS,
                    default="resize",
                    advanced=True,
                    tooltip="Sides must be multiples of 16: resize to the nearest such size, or crop the centre.",
                ),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, vae: Ideogram4VAE, image: torch.Tensor, fit: str = "resize") -> io.NodeOutput:
        images = fit_to_grid(image[..., :3].float(), fit)
        height, width = images.shape[1:3]
        grid = token_grid(width, height)
        module: Flux2VAE = vae.patcher.model
        need = encode_memory_bytes(module.config, (height // 8, width // 8), vae.dtype)
        device = comfy.load_to_device([vae.patcher], memory_required=need)
        tiled = comfy.available_memory(device) < need
        report = comfy.progress(cls.hidden.unique_id, len(images))
        latents = []
        for i in range(len(images)):
            comfy.check_interrupted()
            tokens = encode_image(module, images[i : i + 1].to(device), tiled=tiled)
            latents.append(tokens_to_comfy(tokens.to(vae.patcher.offload_device), grid))
            report(i + 1)
        status = f"{len(latents)} × {width}×{height} encoded" + (" in tiles" if tiled else "")
        return io.NodeOutput({"samples": torch.cat(latents)}, ui={"text": [status]})
