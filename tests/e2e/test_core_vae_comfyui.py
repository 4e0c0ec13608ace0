"""Core ComfyUI's `VAEDecode` on our LATENT: with a full-size random FLUX.2 VAE single file (every tensor of
`flux2-vae.safetensors` at its real name and shape, `flux2_vae_file.py`), core `VAELoader` recognises the FLUX.2
VAE (2×2 batch-norm latent, 128 channels at 1/16) and decodes the sampler's LATENT to the image that
`IG4_VAELoader` + `IG4_VAEDecode` give from the same file."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from ideogram4_core.demo import write_demo_model

from .comfyui_harness import ComfyUI, saved_image
from .flux2_vae_file import write_flux2_vae_file
from .test_generation_comfyui import graph

VAE_FILE = "flux2-vae-full-random.safetensors"
WIDTH, HEIGHT = 128, 96
# Both decode in float32 with their own kernels; after rounding to 8 bits the images may differ by one level
# where a value sits on a rounding boundary (measured on the CPU: 1 level, in 0.008 % of the values).
MAX_DIFF, MAX_SHARE_OFF = 1, 0.001


@pytest.fixture(scope="module")
def vae_file(comfyui: ComfyUI) -> Iterator[str]:
    """The demo model for sampling and the full-size VAE under models/vae (removed again: other modules list it)."""
    repo = comfyui.models_dir / "diffusers" / "ig4-demo"
    if not repo.is_dir():
        write_demo_model(repo)
    file = write_flux2_vae_file(comfyui.models_dir / "vae" / VAE_FILE)
    yield file.name
    file.unlink()


def test_core_vae_decode_gives_our_decode(comfyui: ComfyUI, vae_file: str):
    prompt = graph(WIDTH, HEIGHT)
    nodes = {
        "20": ("VAELoader", {"vae_name": vae_file}),
        "21": ("VAEDecode", {"samples": ["5", 0], "vae": ["20", 0]}),
        "22": ("SaveImage", {"images": ["21", 0], "filename_prefix": "ig4/core_vae"}),
        "30": ("IG4_VAELoader", {"vae": vae_file}),
        "31": ("IG4_VAEDecode", {"vae": ["30", 0], "samples": ["5", 0], "tiling": "auto"}),
        "32": ("SaveImage", {"images": ["31", 0], "filename_prefix": "ig4/our_vae"}),
    }
    prompt |= {key: {"class_type": kind, "inputs": inputs} for key, (kind, inputs) in nodes.items()}
    entry = comfyui.run_prompt(prompt, timeout=600)
    assert entry["status"]["status_str"] == "success", entry["status"]
    core, ours = saved_image(comfyui, entry, "22"), saved_image(comfyui, entry, "32")
    assert core.shape == ours.shape == (HEIGHT, WIDTH, 3)
    assert ours.std() > 10, "the random decoder should give a textured image, not a flat one"
    diff = np.abs(core - ours)
    print("DIFF", diff.max(), (diff > 0).mean(), ours.std())
    assert diff.max() <= MAX_DIFF and (diff > 0).mean() <= MAX_SHARE_OFF, (diff.max(), (diff > 0).mean())
