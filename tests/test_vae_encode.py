"""Picture → normalised latent tokens against diffusers: `AutoencoderKLFlux2.encode(...).latent_dist.mean`,
patchified with `Flux2Pipeline._patchify_latents` and normalised with the VAE's batch-norm statistics in token
order (the inverse of `Ideogram4Pipeline`'s de-normalisation; the official VAE holds Ideogram's statistics),
from the official folder and from BFL single files; and tiled encoding."""

from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKLFlux2, Flux2Pipeline
from fixtures_model import tiny_vae
from numerics import assert_relative_close
from safetensors.torch import save_file

from ideogram4_core.editing import encode_image
from ideogram4_core.errors import Ideogram4Error
from ideogram4_core.models.vae import load_vae
from ideogram4_core.models.vae_tiling import encode_memory_bytes, encode_tiled
from ideogram4_core.sampling.latents import comfy_to_tokens, tokens_to_vae, vae_to_tokens


def oracle_tokens(vae: AutoencoderKLFlux2, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        z = Flux2Pipeline._patchify_latents(vae.encode(images.permute(0, 3, 1, 2) * 2 - 1).latent_dist.mean)
    std = torch.sqrt(vae.bn.running_var + vae.config.batch_norm_eps)
    return (comfy_to_tokens(z) - vae.bn.running_mean) / std


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[AutoencoderKLFlux2, Path, Path]:
    oracle = tiny_vae(3, block_out_channels=(32, 32, 32, 32), norm_num_groups=32)  # single files: 32 groups
    root = tmp_path_factory.mktemp("vae")
    oracle.save_pretrained(root / "vae")
    ours = load_vae(root / "vae")
    single = root / "flux2-vae.safetensors"
    tensors = {**ours.state_dict(), **{f"bn.{k}": v for k, v in ours.bn_stats.items()}}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(single))
    return oracle, root / "vae", single


@pytest.mark.parametrize("source", ["folder", "bfl_single_file"])
def test_tokens_match_diffusers(files, source):
    oracle, folder, single = files
    vae = load_vae(folder if source == "folder" else single)
    images = torch.rand(2, 48, 80, 3, generator=torch.Generator().manual_seed(0))
    tokens = encode_image(vae, images)
    assert tokens.shape == (2, 3 * 5, 128)
    assert_relative_close(tokens, oracle_tokens(oracle, images), tol=1e-5)


def test_tokens_and_vae_latents_are_inverse_layouts():
    tokens = torch.randn(2, 12, 128)
    torch.testing.assert_close(vae_to_tokens(tokens_to_vae(tokens, (3, 4))), tokens, rtol=1e-5, atol=1e-5)


def test_encoding_is_deterministic_and_tiles_agree(files):
    vae = load_vae(files[1])
    images = torch.rand(1, 96, 128, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(encode_image(vae, images), encode_image(vae, images))
    x = images.permute(0, 3, 1, 2) * 2 - 1
    with torch.inference_mode():
        plain = vae.encode(x)
    assert torch.equal(encode_tiled(vae, x, tile=64, overlap=8), plain)  # one tile: the plain encode
    errors = []
    for tile, overlap in ((6, 2), (10, 4), (14, 6)):  # a random encoder leans on global context: close, not exact
        tiled = encode_tiled(vae, x, tile=tile, overlap=overlap)
        assert tiled.shape == plain.shape
        errors.append(((tiled - plain).abs().mean() / plain.abs().mean()).item())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.2, errors
    assert encode_memory_bytes(vae.config, (24, 32), torch.float32) == 4 * encode_memory_bytes(
        vae.config, (12, 16), torch.float32
    )


def test_out_of_memory_falls_back_to_tiles(files, monkeypatch):
    vae = load_vae(files[1])
    images = torch.rand(1, 160, 160, 3, generator=torch.Generator().manual_seed(2))
    whole = encode_image(vae, images)
    original = vae.encode

    def small_only(x):
        if x.shape[-1] > 64 * 8 // 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return original(x)

    monkeypatch.setattr(vae, "encode", small_only)
    monkeypatch.setattr("ideogram4_core.editing.encode_tiled", lambda v, x: encode_tiled(v, x, tile=12, overlap=4))
    tiled = encode_image(vae, images)
    assert tiled.shape == whole.shape and ((tiled - whole).abs().mean() / whole.abs().mean()).item() < 0.5


def test_sizes_must_be_multiples_of_16(files):
    with pytest.raises(Ideogram4Error, match="1000×744; sides must be multiples of 16: resize it to 1008×752"):
        encode_image(load_vae(files[1]), torch.zeros(1, 744, 1000, 3))
