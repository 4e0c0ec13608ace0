"""Image-to-image starts: the step a denoise value picks, and that starting mid-run continues the full run."""

import pytest
import torch
from test_sampler import GRID, SIZE, model, settings

from ideogram4_core.errors import Ideogram4Error
from ideogram4_core.sampling import schedule
from ideogram4_core.sampling.sampler import StartLatent, initial_noise, sample, start_step


def test_start_step_picks_the_first_sigma_at_or_below_denoise():
    sig = schedule.sigmas(8, 0.0, 1.0, *SIZE)
    assert start_step(sig, 1.0) == 0
    k = 3
    assert start_step(sig, float(sig[k])) == k
    assert start_step(sig, float(sig[k]) + 1e-4) == k
    assert start_step(sig, 1e-6) == 7  # at least one step runs
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(Ideogram4Error, match="denoise"):
            start_step(sig, bad)


def test_default_path_is_unchanged_by_the_start_option():
    noise, text = initial_noise(5, 2, 6), [torch.randn(5, 24)] * 2
    a = sample(model(0), model(1), text, noise, GRID, SIZE, settings())
    b = sample(model(0), model(1), text, noise, GRID, SIZE, settings(), start=None)
    assert torch.equal(a, b)


def test_starting_from_a_mid_run_latent_continues_the_full_run():
    """Pick x0 so that (1−σ_k)·x0 + σ_k·noise is the full run's latent at step k; the rest must agree."""
    cond, uncond, text, noise = model(0), model(1), [torch.randn(5, 24)], initial_noise(7, 1, 6)
    run = settings(steps=6, polish=2)
    latents = []
    full = sample(cond, uncond, text, noise, GRID, SIZE, run, callback=lambda i, n, x, x0: latents.append(x.clone()))
    sig = schedule.sigmas(run.steps, run.mu, run.std, *SIZE)
    k = 2
    x0 = (latents[k - 1] - sig[k] * noise) / (1.0 - sig[k])
    steps = []
    out = sample(cond, uncond, text, noise, GRID, SIZE, run, callback=lambda i, n, x, d: steps.append((i, n)),
                 start=StartLatent(x0, float(sig[k])))  # fmt: skip
    assert steps == [(i, run.steps - k) for i in range(run.steps - k)]
    torch.testing.assert_close(out, full, rtol=1e-4, atol=1e-4)


def test_one_start_latent_is_shared_by_the_batch():
    cond, uncond, noise = model(0), model(1), initial_noise(2, 2, 6)
    x0 = torch.randn(1, 6, 128)
    out = sample(cond, uncond, [torch.randn(5, 24)] * 2, noise, GRID, SIZE, settings(), start=StartLatent(x0, 0.5))
    assert out.shape == (2, 6, 128) and not torch.equal(out[0], out[1])
