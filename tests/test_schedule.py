"""Schedules, presets, noise and latent layouts against the reference pipeline's arithmetic."""

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.ideogram4.pipeline_ideogram4 import _logit_normal_sigmas, _resolution_aware_mu
from diffusers.utils.torch_utils import randn_tensor

from ideogram4_core.errors import Ideogram4Error
from ideogram4_core.sampling import latents, schedule
from ideogram4_core.sampling.sampler import initial_noise


@pytest.mark.parametrize("name", list(schedule.PRESETS))
@pytest.mark.parametrize("size", [(1024, 1024), (512, 512), (2048, 1152), (256, 1536)])
def test_sigmas_equal_reference(name, size):
    s = schedule.preset(name)
    width, height = size
    reference = FlowMatchEulerDiscreteScheduler()
    mean = _resolution_aware_mu(height=height, width=width, base_mu=s.mu)
    reference.set_timesteps(sigmas=_logit_normal_sigmas(s.steps, mean, std=s.std).tolist())
    ours = schedule.sigmas(s.steps, s.mu, s.std, width, height)
    assert ours.dtype == torch.float32 and len(ours) == s.steps + 1
    assert torch.equal(ours, reference.sigmas)
    assert ours[-1] == 0 and bool((ours[:-1] > ours[1:]).all())


def test_official_presets_have_exact_polish_counts():
    assert schedule.preset("V4_QUALITY_48").guidance_schedule() == [7.0] * 45 + [3.0] * 3
    assert schedule.preset("V4_DEFAULT_20").guidance_schedule() == [7.0] * 18 + [3.0] * 2
    assert schedule.preset("v4_turbo_12").guidance_schedule() == [7.0] * 11 + [3.0]
    turbo = schedule.preset("V4_TURBO_12")
    assert (turbo.mu, turbo.std) == (0.5, 1.75)
    assert (schedule.preset("COMMUNITY_34").steps, schedule.preset("COMMUNITY_34").std) == (34, 1.6875)
    assert (schedule.preset("COMMUNITY_16").mu, schedule.preset("COMMUNITY_16").std) == (0.25, 1.8375)


def test_explicit_settings_are_checked():
    custom = schedule.SamplingSettings(steps=10, guidance=5.0, polish_steps=4, polish_guidance=2.0, mu=0.0, std=1.0)
    assert custom.guidance_schedule() == [5.0] * 6 + [2.0] * 4
    with pytest.raises(Ideogram4Error, match="polish steps"):
        schedule.SamplingSettings(steps=4, guidance=5.0, polish_steps=5, polish_guidance=2.0, mu=0.0, std=1.0)
    with pytest.raises(Ideogram4Error, match="Unknown preset 'fast'"):
        schedule.preset("fast")


def test_noise_equals_reference_draw():
    expected = randn_tensor((2, 12, 128), generator=torch.Generator("cpu").manual_seed(42), dtype=torch.float32)
    assert torch.equal(initial_noise(42, 2, 12), expected)


def test_latent_layouts():
    grid = (3, 4)
    tokens = torch.randn(2, 12, 128)
    # The reference's de-normalisation and unpatchify, written out with its own ops.
    shift, scale = latents.latent_statistics()
    z = (tokens * scale + shift).view(2, 3, 4, 2, 2, 32).permute(0, 5, 1, 3, 2, 4).reshape(2, 32, 6, 8)
    assert torch.equal(latents.tokens_to_vae(tokens, grid), z)
    comfy = latents.tokens_to_comfy(tokens, grid)
    assert comfy.shape == (2, 128, 3, 4)
    # ComfyUI channel c*4 + ph*2 + pw holds token channel (ph*2 + pw)*32 + c.
    assert torch.equal(comfy[1, 5 * 4 + 1 * 2 + 0, 2, 3], tokens[1, 2 * 4 + 3, (1 * 2 + 0) * 32 + 5])
    assert torch.equal(latents.comfy_to_tokens(comfy), tokens)
