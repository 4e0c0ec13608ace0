# ruff: noqa: F811  (the fixtures imported from test_generation_nodes are test arguments here)
"""VAE Encode, Element Mask and the sampler's noise_mask on the tiny demo model, with stand-ins for ComfyUI:
an encoded image round-trips through VAE Decode's layout, kept tokens end exactly at the encoded image, and
the element mask covers the chosen boxes."""

from __future__ import annotations

import importlib

import pytest
import torch
from test_generation_nodes import CAPTION, TURBO, fake, loaded, pack, repo  # noqa: F401 (fixtures)

from ideogram4_core.editing import encode_image
from ideogram4_core.sampling.latents import comfy_to_tokens, tokens_to_comfy


def _node(name: str, cls: str):
    return getattr(importlib.import_module(f"ig4pack.nodes.{name}"), cls)


def test_vae_encode_gives_the_engines_tokens_in_comfys_layout(pack, loaded):
    encode = _node("vae_encode", "IG4_VAEEncode")
    schema = encode.define_schema()
    assert schema.node_id == "IG4_VAEEncode" and schema.display_name == "Ideogram 4 · VAE Encode"
    image = torch.rand(2, 48, 64, 3)
    latent = encode.execute(loaded.vae, image).values[0]["samples"]
    assert latent.shape == (2, 128, 3, 4)
    expected = encode_image(loaded.vae.patcher.model, image)
    torch.testing.assert_close(comfy_to_tokens(latent), expected, rtol=1e-4, atol=1e-4)  # batch 1 vs 2 kernels
    rgba = torch.cat([image, torch.ones(2, 48, 64, 1)], dim=-1)
    assert torch.equal(encode.execute(loaded.vae, rgba).values[0]["samples"], latent)
    odd = torch.rand(1, 50, 70, 3)
    assert encode.execute(loaded.vae, odd).values[0]["samples"].shape == (1, 128, 3, 4)  # resized to 64×48
    assert encode.execute(loaded.vae, odd, fit="crop").values[0]["samples"].shape == (1, 128, 3, 4)


def test_vae_encode_tiles_when_the_image_does_not_fit(pack, fake, loaded):
    """Too large for the free memory: encoded in tiles (said in the status); one default tile covers this small
    image, so the latent is the whole image's exactly."""
    encode = _node("vae_encode", "IG4_VAEEncode")
    image = torch.rand(1, 64, 96, 3)
    whole = encode.execute(loaded.vae, image)
    fake.free_memory = 1 << 10
    tiled = encode.execute(loaded.vae, image)
    assert whole.ui["text"] == ["1 × 96×64 encoded"] and tiled.ui["text"] == ["1 × 96×64 encoded in tiles"]
    assert torch.equal(tiled.values[0]["samples"], whole.values[0]["samples"])


def test_sampler_honours_noise_mask(pack, loaded):
    encode = _node("vae_encode", "IG4_VAEEncode")
    samples = encode.execute(loaded.vae, torch.rand(1, 48, 64, 3)).values[0]["samples"]
    conditioning = pack.text_encode.IG4_TextEncode.execute(loaded.text_encoder, CAPTION).values[0]
    mask = torch.zeros(1, 96, 128)  # twice the image size, as a mask from another resolution
    mask[:, :32, :32] = 1.0  # token (0, 0)
    run = dict(seed=4, preset=TURBO, width=1024, height=1024, denoise=1.0)
    out = pack.sampler.IG4_Sampler.execute(
        loaded.model, conditioning, batch_size=2, **run, latent={"samples": samples, "noise_mask": mask}
    ).values[0]["samples"]
    kept = torch.ones(3, 4, dtype=torch.bool)
    kept[0, 0] = False
    assert torch.equal(out[:, :, kept], samples[:, :, kept].expand(2, -1, -1))
    assert not torch.equal(out[:, :, 0, 0], samples[:, :, 0, 0].expand(2, -1))
    per_image = torch.zeros(2, 1, 48, 64)  # Set Latent Noise Mask's layout, one mask per image
    per_image[1, :, 16:32, 16:32] = 1.0  # image 2: token (1, 1) only
    out = pack.sampler.IG4_Sampler.execute(
        loaded.model, conditioning, batch_size=2, **run, latent={"samples": samples, "noise_mask": per_image}
    ).values[0]["samples"]
    assert torch.equal(out[0], samples[0])
    kept[0, 0], kept[1, 1] = True, False
    assert torch.equal(out[1][:, kept], samples[0][:, kept]) and not torch.equal(out[1], samples[0])
    with pytest.raises(pack.errors.Ideogram4Error, match="noise mask holds 3 masks but this run makes 2"):
        pack.sampler.IG4_Sampler.execute(
            loaded.model,
            conditioning,
            batch_size=2,
            **run,
            latent={"samples": samples, "noise_mask": mask.expand(3, -1, -1)},
        )


def test_element_mask_node(pack):
    node = _node("element_mask", "IG4_ElementMask")
    schema = node.define_schema()
    assert [i.id for i in schema.inputs] == ["caption", "elements", "margin", "width", "height"]
    assert schema.inputs[0].force_input and [o.kind for o in schema.outputs] == ["MASK"]
    out = node.execute(CAPTION, "1", 0, 200, 100)  # bbox [100, 100, 600, 500]
    mask = out.values[0]
    assert mask.shape == (1, 100, 200) and mask[0, 10:60, 20:100].all() and mask.sum() == 50 * 80
    assert node.execute(CAPTION, " 1 ", 10, 200, 100).values[0].sum() == 70 * 100
    assert "element(s) 1" in out.ui["text"][0]
    with pytest.raises(pack.errors.CaptionError, match="Element 2 does not exist"):
        node.execute(CAPTION, "1, 2", 0, 200, 100)
    unboxed = CAPTION.replace('"bbox": [100, 100, 600, 500], ', "")
    with pytest.raises(pack.errors.CaptionError, match=r"Element 1 .*'a kite'.* has no box; draw a box for it in"):
        node.execute(unboxed, "1", 0, 200, 100)
    with pytest.raises(pack.errors.CaptionError, match="'x' is not an element number"):
        node.execute(CAPTION, "x", 0, 200, 100)


@pytest.mark.parametrize("denoise", [0.0, -0.5, 1.5])
def test_sampler_refuses_denoise_outside_0_1(pack, loaded, denoise):
    samples = _node("vae_encode", "IG4_VAEEncode").execute(loaded.vae, torch.rand(1, 32, 32, 3)).values[0]
    conditioning = pack.text_encode.IG4_TextEncode.execute(loaded.text_encoder, CAPTION).values[0]
    with pytest.raises(pack.errors.Ideogram4Error, match=r"denoise must be in \(0, 1\]"):
        pack.sampler.IG4_Sampler.execute(
            loaded.model, conditioning, width=1024, height=1024, seed=0, batch_size=1, preset=TURBO,
            denoise=denoise, latent=samples,
        )  # fmt: skip


def test_a_noise_mask_that_is_no_image_mask_is_refused(pack, loaded):
    samples = _node("vae_encode", "IG4_VAEEncode").execute(loaded.vae, torch.rand(1, 32, 32, 3)).values[0]
    conditioning = pack.text_encode.IG4_TextEncode.execute(loaded.text_encoder, CAPTION).values[0]
    with pytest.raises(pack.errors.Ideogram4Error, match=r"A mask must be \(H, W\) or \(B, H, W\)"):
        pack.sampler.IG4_Sampler.execute(
            loaded.model, conditioning, width=1024, height=1024, seed=0, batch_size=1, preset=TURBO,
            latent=samples | {"noise_mask": torch.ones(1, 3, 32, 32)},
        )  # fmt: skip


def test_tokens_to_comfy_round_trip():
    tokens = torch.randn(1, 12, 128)
    assert torch.equal(comfy_to_tokens(tokens_to_comfy(tokens, (3, 4))), tokens)
