"""Tiled decoding: one big tile is the plain decode exactly; small tiles stay close and cover every pixel."""

import itertools
from types import SimpleNamespace

import pytest
import torch

from ideogram4_core.models.vae import Flux2VAE, VAEConfig
from ideogram4_core.models.vae_tiling import decode_memory_bytes, decode_tiled, tile_count, tile_starts

CONFIG = VAEConfig(decoder_channels=(4, 8, 8, 8), encoder_channels=None, layers_per_block=1, norm_groups=4)


@pytest.fixture(scope="module")
def vae() -> Flux2VAE:
    torch.manual_seed(0)
    model = Flux2VAE(CONFIG).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)
    return model


def test_tile_starts_cover_the_length_with_the_requested_overlap():
    assert tile_starts(10, 16, 4) == [0]
    assert tile_starts(16, 16, 4) == [0]
    starts = tile_starts(40, 16, 4)
    assert starts[0] == 0 and starts[-1] == 40 - 16
    assert all(b - a <= 16 - 4 for a, b in itertools.pairwise(starts))
    with pytest.raises(ValueError, match="overlap"):
        tile_starts(40, 8, 8)


def test_one_tile_larger_than_the_latent_is_the_plain_decode(vae: Flux2VAE):
    z = torch.randn(2, 32, 6, 10)
    calls = []
    out = decode_tiled(vae, z, tile=16, overlap=4, on_tile=lambda done, total: calls.append((done, total)))
    with torch.inference_mode():
        assert torch.equal(out, vae.decode(z))
    assert calls == [(1, 1)]


def test_small_tiles_are_close_and_closer_as_tiles_grow(vae: Flux2VAE):
    """A random decoder leans on global context (attention, GroupNorm), so the error shrinks with tile size."""
    z = torch.randn(1, 32, 24, 32)
    calls = []
    with torch.inference_mode():
        plain = vae.decode(z)
    errors = []
    for tile, overlap in ((12, 6), (20, 8), (28, 12)):
        out = decode_tiled(vae, z, tile, overlap, on_tile=lambda done, total: calls.append((done, total)))
        assert out.shape == plain.shape
        errors.append(((out - plain).abs().mean() / plain.abs().mean()).item())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.05, errors
    first = tile_count((24, 32), 12, 6)
    assert calls[:first] == [(i + 1, first) for i in range(first)] and first == 15


class PixelDecoder:
    """A decoder without context: each latent pixel becomes an f×f block of its first three channels."""

    downscale = 8
    config = SimpleNamespace(image_channels=3)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, :3].repeat_interleave(self.downscale, 2).repeat_interleave(self.downscale, 3)


def test_blending_is_exact_for_a_decoder_without_context():
    z = torch.randn(2, 32, 21, 30)
    decoder = PixelDecoder()
    for tile, overlap in ((8, 3), (10, 6), (16, 1)):
        torch.testing.assert_close(decode_tiled(decoder, z, tile, overlap), decoder.decode(z))


def test_memory_estimate_scales_with_pixels_and_dtype():
    full = VAEConfig()
    one = decode_memory_bytes(full, (128, 128), torch.bfloat16)
    assert decode_memory_bytes(full, (256, 256), torch.bfloat16) == 4 * one
    assert decode_memory_bytes(full, (128, 128), torch.float32, batch=2) == 4 * one
    assert 2**30 < one < 2**33  # 1024² in bf16: a few GiB
