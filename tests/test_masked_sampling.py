"""Masked sampling: kept tokens end exactly at the input, repainted ones change, denoise sets how far an image
moves, and differential mode lets each token change only from its own step. The keep rule is checked against
the one of diffusers' Flux2 Klein inpaint pipeline (re-noise with the scheduler's `scale_noise`, then blend)."""

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from test_sampler import GRID, SIZE, model, settings

from ideogram4_core.sampling import schedule
from ideogram4_core.sampling.masks import TokenMask
from ideogram4_core.sampling.sampler import StartLatent, initial_noise, sample

TEXT = [torch.randn(5, 24, generator=torch.Generator().manual_seed(0))]
N = GRID[0] * GRID[1]


def run(start, batch=1, seed=3, callback=None, text=TEXT):
    noise = initial_noise(seed, batch, N)
    return sample(model(0), model(1), text * batch, noise, GRID, SIZE, settings(steps=6, polish=1), callback, start)


@pytest.fixture(scope="module")
def x0() -> torch.Tensor:
    return torch.randn(1, N, 128, generator=torch.Generator().manual_seed(9))


def test_kept_tokens_equal_the_input_exactly_and_repainted_ones_change(x0):
    values = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]])
    out = run(StartLatent(x0, 1.0, TokenMask(values)))
    kept = values[0] == 0
    assert torch.equal(out[0, kept], x0[0, kept])
    assert (out[0, ~kept] - x0[0, ~kept]).abs().mean() > 0.1


def test_an_all_black_mask_returns_the_input(x0):
    for differential in (False, True):
        assert torch.equal(run(StartLatent(x0, 0.7, TokenMask(torch.zeros(1, N), differential)))[0], x0[0])


def test_an_all_white_mask_is_plain_img2img(x0):
    plain = run(StartLatent(x0, 0.8))
    for differential in (False, True):
        assert torch.equal(run(StartLatent(x0, 0.8, TokenMask(torch.ones(1, N), differential))), plain)


def test_distance_to_the_input_grows_with_denoise(x0):
    distances = [(run(StartLatent(x0, d)) - x0).norm().item() for d in (0.2, 0.5, 0.8, 1.0)]
    assert distances == sorted(distances) and distances[0] < 0.5 * distances[-1], distances


def test_batches_with_one_mask_per_image(x0):
    values = torch.zeros(2, N)
    values[1, :3] = 1.0
    out = run(StartLatent(x0, 1.0, TokenMask(values)), batch=2)
    assert torch.equal(out[0], x0[0]) and torch.equal(out[1, 3:], x0[0, 3:])
    assert not torch.equal(out[1, :3], x0[0, :3])


def test_differential_mode_frees_each_token_from_its_own_step(x0):
    """Six steps: strength 0.5 changes in the last three, 1/6 in the last one, 0 never."""
    values = torch.tensor([[1.0, 0.5, 1 / 6, 0.0, 0.5, 1.0]])
    steps = 6
    sig = schedule.sigmas(steps, 0.0, 1.0, *SIZE)
    noise = initial_noise(3, 1, N)
    seen = []
    run(StartLatent(x0, 1.0, TokenMask(values, differential=True)), callback=lambda i, n, x, d: seen.append(x.clone()))
    for step, x in enumerate(seen):  # x sits at σ_{step+1}
        renoised = (1 - sig[step + 1]) * x0 + sig[step + 1] * noise
        follows = [torch.equal(x[0, t], renoised[0, t]) for t in range(N)]
        free_from = [0, 3, 5, steps, 3, 0]
        assert follows == [step < start for start in free_from], (step, follows)


def test_keep_rule_matches_the_diffusers_inpaint_blend(x0):
    """After step i the latent is (1 − m)·scale_noise(x0, t_{i+1}, noise) + m·latent (Flux2 Klein inpaint)."""
    sig = schedule.sigmas(6, 0.0, 1.0, *SIZE)
    noise, x = torch.randn(1, N, 128), torch.randn(1, N, 128)
    m = torch.rand(1, N)
    keep = TokenMask(m).keeper(x0, noise, sig, first=0)
    scheduler = FlowMatchEulerDiscreteScheduler()
    scheduler.set_timesteps(sigmas=sig[:-1].numpy())
    for i in range(1, 6):
        proper = scheduler.scale_noise(x0, scheduler.timesteps[i : i + 1], noise)
        expected = (1 - m[..., None]) * proper + m[..., None] * x
        torch.testing.assert_close(keep(x, i), expected, rtol=1e-5, atol=1e-5)
