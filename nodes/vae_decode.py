"""``IG4_VAEDecode`` — "Ideogram 4 · VAE Decode": LATENT → IMAGE, exactly as the reference decodes.

The LATENT is de-normalised with Ideogram's statistics and un-patchified (not the VAE file's FLUX.2
statistics, which core's VAEDecode uses), decoded by the FLUX.2 decoder and mapped to [0, 1]. Images are
decoded one at a time; an image decodes in tiles (`ideogram4_core.models.vae_tiling`) when the memory estimate says
the whole does not fit, when the whole runs out of memory, or always if asked. Cancel is honoured between
images and tiles.
"""

from __future__ import annotations

from typing import Any

import torch
from comfy_api.latest import io

from ..ideogram4_core.errors import Ideogram4Error
from ..ideogram4_core.images import decoded_to_unit
from ..ideogram4_core.models.vae import Flux2VAE
from ..ideogram4_core.models.vae_tiling import TileCallback, decode_memory_bytes, decode_tiled, tile_count
from ..ideogram4_core.sampling.latents import TOKEN_CHANNELS, comfy_to_tokens, tokens_to_vae
from . import comfy_adapter as comfy
from .sockets import Ideogram4VAESocket
from .types import Ideogram4VAE

TILING = ["auto", "always"]


def _vae_latent(samples: torch.Tensor) -> torch.Tensor:
    """ComfyUI's (B, 128, H/16, W/16) normalised LATENT → the decoder's (B, 32, H/8, W/8)."""
    if samples.ndim != 4 or samples.shape[1] != TOKEN_CHANNELS:
        raise Ideogram4Error(
            f"This LATENT has shape {tuple(samples.shape)}; the Ideogram 4 decoder needs (B, {TOKEN_CHANNELS}, "
            "H/16, W/16) from Ideogram 4 · Sampler (or another FLUX.2-family latent)."
        )
    return tokens_to_vae(comfy_to_tokens(samples.float()), tuple(samples.shape[2:]))


def decode_image(
    vae: Flux2VAE, z: torch.Tensor, tiled: bool, on_tile: TileCallback, out_device: torch.device
) -> tuple[torch.Tensor, bool]:
    """One (1, 32, h, w) latent → float32 (1, 3, H, W) on `out_device`, and whether it was tiled.

    A whole decode that runs out of memory is retried in tiles.
    """
    if not tiled:
        try:
            with torch.inference_mode():
                return vae.decode(z).to(out_device, torch.float32), False
        except Exception as exc:
            if not comfy.is_out_of_memory(exc):
                raise
    return decode_tiled(vae, z, on_tile=on_tile, out_device=out_device), True


class IG4_VAEDecode(io.ComfyNode):
    """Decodes Ideogram 4 latents with the FLUX.2 VAE, the way the reference pipeline does."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="IG4_VAEDecode",
            display_name="Ideogram 4 · VAE Decode",
            category="Ideogram 4",
            description="Decodes an Ideogram 4 LATENT with the FLUX.2 VAE exactly as the reference does (Ideogram's "
            "latent statistics); decodes in tiles when the image does not fit in memory.",
            search_aliases=["ideogram", "vae decode", "decode"],
            inputs=[
                Ideogram4VAESocket.Input("vae"),
                io.Latent.Input("samples"),
                io.Combo.Input(
                    "tiling",
                    options=TILING,
                    default="auto",
                    advanced=True,
                    tooltip="auto: tiles only when the whole image does not fit in memory; always: tiles "
                    "(less memory, very slightly different at tile seams).",
                ),
            ],
            outputs=[io.Image.Output(display_name="image")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, vae: Ideogram4VAE, samples: dict[str, Any], tiling: str = "auto") -> io.NodeOutput:
        z = _vae_latent(samples["samples"])
        module: Flux2VAE = vae.patcher.model
        need = decode_memory_bytes(module.config, tuple(z.shape[2:]), vae.dtype)
        device = comfy.load_to_device([vae.patcher], memory_required=need)
        tiled = tiling == "always" or comfy.available_memory(device) < need
        tiles = tile_count(tuple(z.shape[2:]))
        report = comfy.progress(cls.hidden.unique_id, len(z) * tiles)  # a whole decode counts as all its tiles
        images = []
        for i in range(len(z)):
            comfy.check_interrupted()
            image, was_tiled = decode_image(
                module, z[i : i + 1], tiled, lambda n, _, i=i: report(i * tiles + n), vae.patcher.offload_device
            )
            tiled = tiled or was_tiled
            images.append(decoded_to_unit(image).permute(0, 2, 3, 1))
            report((i + 1) * tiles)
        how = f"in {tiles} tiles per image" if tiled else "whole"
        status = f"{len(images)} × {images[0].shape[2]}×{images[0].shape[1]} decoded {how}"
        return io.NodeOutput(torch.cat(images), ui={"text": [status]})
