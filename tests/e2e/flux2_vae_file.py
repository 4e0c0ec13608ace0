"""A full-size random FLUX.2 VAE single file, as ComfyUI core's `VAELoader` reads `flux2-vae.safetensors`.

Core recognises the FLUX.2 VAE only by the real layout and sizes (`comfy/sd.py`: the LDM names, `ch` 128 with
levels ×1, ×2, ×4, ×4 and 2 ResBlocks per level, `decoder.conv_in` 32 latent channels, `bn.running_mean`
switching on its 2×2 patchified batch-norm latent), so the file has every tensor of the BFL / ComfyUI file at
its real shape: our `Flux2VAE` at the default sizes is that layout (`ideogram4_core/models/vae.py`), plus a
`BatchNorm2d(128)`'s `bn.*` buffers.

The batch-norm statistics are Ideogram's (`running_mean` = shift and `running_var` = scale² − 1e-4, core's eps,
in core's (c, ph, pw) channel order), as in the official repo's VAE: core's VAE Encode / VAE Decode then
normalise exactly as our nodes do, so their LATENTs can be compared with ours number for number.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from ideogram4_core.models.vae import Flux2VAE, VAEConfig
from ideogram4_core.sampling.latents import latent_statistics, tokens_to_comfy

CORE_BN_EPS = 1e-4  # comfy/ldm/models/autoencoder.py: the batch-norm latent's eps


def _comfy_order(values: torch.Tensor) -> torch.Tensor:
    """128 per-channel values in token order (ph, pw, c) → ComfyUI's LATENT order (c, ph, pw)."""
    return tokens_to_comfy(values.view(1, 1, -1), (1, 1)).flatten()


def core_bn_buffers() -> dict[str, torch.Tensor]:
    """`bn.*` buffers that make core's batch-norm latent equal to Ideogram's normalisation."""
    shift, scale = latent_statistics()
    return {
        "bn.running_mean": _comfy_order(shift),
        "bn.running_var": _comfy_order(scale**2 - CORE_BN_EPS),
        "bn.num_batches_tracked": torch.tensor(0, dtype=torch.int64),
    }


def write_flux2_vae_file(file: Path, seed: int = 0) -> Path:
    """Write the random full-size FLUX.2 VAE (float32, about 336 MB) to `file`; returns `file`."""
    torch.manual_seed(seed)
    vae = Flux2VAE(VAEConfig())
    tensors = {name: tensor.contiguous() for name, tensor in vae.state_dict().items()} | core_bn_buffers()
    file.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(file))
    return file
