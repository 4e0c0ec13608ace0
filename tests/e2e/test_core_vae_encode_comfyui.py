"""Core's VAE Encode feeding our sampler, in a real ComfyUI: a full-size FLUX.2 VAE single file (random
weights, the real tensor names and shapes, `flux2_vae_file.py`) loaded by core's Load VAE encodes a picture with
core's VAE Encode, and `IG4_Sampler` takes that LATENT for image-to-image and, through core's Set Latent Noise
Mask, for inpainting. The latents are read back from core's Save Latent files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ideogram4_core.demo import write_demo_model
from ideogram4_core.sampling.masks import token_mask

from .comfyui_harness import ComfyUI
from .flux2_vae_file import write_flux2_vae_file

VAE_NAME = "flux2-vae-random-full.safetensors"
DEMO = "ig4-core-vae"
PICTURE = "ig4_core_vae_picture.png"
SIZE = 64  # the full-size VAE on the CPU: keep the picture small
HOLE = (slice(16, 48), slice(16, 32))  # rows, columns of the picture's transparent area (Load Image's MASK)
CAPTION = (
    '{"compositional_deconstruction": {"background": "a green field", "elements": '
    '[{"type": "obj", "bbox": [250, 250, 750, 500], "desc": "a red kite"}]}}'
)


@pytest.fixture(scope="module")
def files(comfyui: ComfyUI) -> Iterator[Image.Image]:
    """The demo model, the full-size VAE file and an RGBA picture in the server's folders; the picture."""
    repo = write_demo_model(comfyui.models_dir / "diffusers" / DEMO)
    vae = write_flux2_vae_file(comfyui.models_dir / "vae" / VAE_NAME)
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, SIZE)
    rgb = np.stack([ramp[None].repeat(SIZE, 0), ramp[:, None].repeat(SIZE, 1), rng.uniform(0, 255, (SIZE, SIZE))])
    alpha = np.full((SIZE, SIZE), 255.0)
    alpha[HOLE] = 0
    picture = Image.fromarray(np.concatenate([rgb, alpha[None]]).transpose(1, 2, 0).astype(np.uint8), "RGBA")
    picture.save(comfyui.base_dir / "input" / PICTURE)
    yield picture
    (comfyui.base_dir / "input" / PICTURE).unlink()
    vae.unlink()
    shutil.rmtree(repo)


def sampler(latent: list, denoise: float) -> tuple[str, dict]:
    return "IG4_Sampler", {"model": ["1", 0], "conditioning": ["3", 0], "latent": latent, "width": 256,
                           "height": 256, "seed": 7, "preset": "Turbo (12 steps)", "batch_size": 1,
                           "denoise": denoise, "step_cache": 0.0, "progressive": 0.0}  # fmt: skip


def graph() -> dict:
    """Core's Load VAE + VAE Encode and ours on one picture; our sampler on core's LATENT (img2img, and
    inpainting with Load Image's mask) and on ours; every LATENT saved by core's Save Latent."""
    nodes = {
        "1": ("IG4_ModelLoader", {"model": f"{DEMO}/", "unconditional_model": "auto", "weight_format": "auto",
                                  "compute_dtype": "auto", "block_streaming": "auto"}),
        "2": ("IG4_TextEncoderLoader", {"text_encoder": f"{DEMO}/text_encoder/", "tokenizer": "auto",
                                        "compute_dtype": "auto"}),
        "3": ("IG4_TextEncode", {"text_encoder": ["2", 0], "caption": CAPTION}),
        "4": ("LoadImage", {"image": PICTURE}),
        "5": ("VAELoader", {"vae_name": VAE_NAME}),
        "6": ("VAEEncode", {"pixels": ["4", 0], "vae": ["5", 0]}),
        "7": ("IG4_VAELoader", {"vae": VAE_NAME}),
        "8": ("IG4_VAEEncode", {"vae": ["7", 0], "image": ["4", 0], "fit": "resize"}),
        "9": ("SetLatentNoiseMask", {"samples": ["6", 0], "mask": ["4", 1]}),
        "10": sampler(["9", 0], 1.0),
        "11": sampler(["6", 0], 0.5),
        "12": sampler(["8", 0], 0.5),
        "13": ("IG4_VAEDecode", {"vae": ["7", 0], "samples": ["10", 0], "tiling": "auto"}),
        "14": ("PreviewImage", {"images": ["13", 0]}),
    }  # fmt: skip
    saved = {"core": "6", "ours": "8", "inpainted": "10", "img2img_core": "11", "img2img_ours": "12"}
    for name, node in saved.items():
        nodes[f"save_{name}"] = ("SaveLatent", {"samples": [node, 0], "filename_prefix": f"ig4_core_vae/{name}"})
    return {key: {"class_type": node, "inputs": inputs} for key, (node, inputs) in nodes.items()}


@pytest.fixture(scope="module")
def latents(comfyui: ComfyUI, files: Image.Image) -> dict[str, torch.Tensor]:
    """Every saved LATENT of one run of `graph()`, by name."""
    entry = comfyui.run_prompt(graph(), timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["outputs"]["14"]["images"]
    out = {}
    for key, outputs in entry["outputs"].items():
        if key.startswith("save_"):
            (saved,) = outputs["latents"]
            path = comfyui.base_dir / "output" / saved["subfolder"] / saved["filename"]
            out[key.removeprefix("save_")] = load_file(str(path))["latent_tensor"]
    return out


def test_core_vae_encode_gives_our_latent(comfyui: ComfyUI, latents: dict[str, torch.Tensor]):
    """Core loads every tensor of the file, and as its batch-norm statistics are Ideogram's, core's LATENT is
    ours up to float rounding."""
    assert "Missing VAE keys" not in comfyui.log_text()
    core, ours = latents["core"], latents["ours"]
    assert core.shape == ours.shape == (1, 128, SIZE // 16, SIZE // 16)
    torch.testing.assert_close(core.float(), ours, rtol=0, atol=1e-4)


def test_our_sampler_does_img2img_from_cores_latent(latents: dict[str, torch.Tensor]):
    from_core, from_ours = latents["img2img_core"], latents["img2img_ours"]
    assert from_core.shape == latents["core"].shape
    torch.testing.assert_close(from_core, from_ours, rtol=0, atol=1e-3)
    assert (from_core - latents["core"].float()).abs().mean() > 0.05


def test_our_sampler_inpaints_cores_latent_with_load_images_mask(latents: dict[str, torch.Tensor]):
    """Set Latent Noise Mask on core's LATENT: tokens outside the transparent area end exactly at core's values."""
    mask = torch.zeros(1, SIZE, SIZE)
    mask[0, HOLE[0], HOLE[1]] = 1.0
    kept = (token_mask(mask, (SIZE // 16, SIZE // 16)) == 0).view(SIZE // 16, SIZE // 16)
    core, inpainted = latents["core"].float(), latents["inpainted"]
    assert 0 < kept.sum() < kept.numel()
    assert torch.equal(inpainted[0][:, kept], core[0][:, kept])
    assert (inpainted[0][:, ~kept] - core[0][:, ~kept]).abs().mean() > 0.05
