"""End to end: our pipeline against `diffusers.Ideogram4Pipeline` on the same tiny official-layout model.

Tolerances: latents within relative error 1e-4 (fp32, CPU), images within 2/255 per pixel.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures_model import write_official_model
from numerics import assert_relative_close

from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import PRESETS, SamplingSettings, preset

CAPTION = (
    '{"high_level_description":"A bold poster","style_description":{"aesthetics":"clean","lighting":"soft",'
    '"medium":"digital","art_style":"flat vector","color_palette":["#112233","#F0E0D0"]},'
    '"compositional_deconstruction":{"background":"warm paper","elements":[{"type":"text","bbox":[80,100,300,900],'
    '"text":"SUMMER SALE","desc":"huge bold sans-serif headline"}]}}'
)
NON_ASCII = '{"compositional_deconstruction":{"background":"Café – 東京 façade","elements":[]}}'


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ideogram4")
    oracle = write_official_model(folder)
    ours = Ideogram4Pipeline(ModelPaths.from_folder(folder), device=torch.device("cpu"), dtype=torch.float32)
    return oracle, ours


def run_oracle(oracle, captions, width, height, seed, settings: SamplingSettings, batch_size=1):
    captured = {}

    def keep_latents(pipe, step, timestep, kwargs):
        captured["latents"] = kwargs["latents"]
        return {}

    images = oracle(
        captions,
        height=height,
        width=width,
        num_inference_steps=settings.steps,
        guidance_schedule=settings.guidance_schedule(),
        mu=settings.mu,
        std=settings.std,
        num_images_per_prompt=batch_size,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
        callback_on_step_end=keep_latents,
    ).images
    return captured["latents"], images


def check_against_oracle(model, captions, width, height, seed, settings, batch_size=1):
    oracle, ours = model
    expected_tokens, expected_images = run_oracle(oracle, captions, width, height, seed, settings, batch_size)
    result = ours.generate(captions, width=width, height=height, seed=seed, settings=settings, batch_size=batch_size)
    assert_relative_close(result.tokens, expected_tokens, tol=1e-4)
    got = np.stack([np.asarray(image, dtype=np.float64) / 255 for image in result.images])
    assert got.shape == expected_images.shape == (len(result.images), height, width, 3)
    assert np.abs(got - np.round(expected_images * 255) / 255).max() <= 2 / 255 + 1e-9
    assert result.latent.shape == (len(result.images), 32, height // 8, width // 8)


@pytest.mark.parametrize("size", [(64, 64), (96, 48), (48, 112)])
def test_sizes_match_reference(model, size):
    check_against_oracle(model, CAPTION, *size, seed=7, settings=preset("V4_TURBO_12"))


@pytest.mark.parametrize("name", sorted(set(PRESETS) - {"V4_TURBO_12"}))
def test_presets_match_reference(model, name):
    check_against_oracle(model, CAPTION, 64, 48, seed=11, settings=preset(name))


def test_explicit_polish_settings_match_reference(model):
    settings = SamplingSettings(steps=9, guidance=5.5, polish_steps=4, polish_guidance=1.5, mu=0.3, std=1.2)
    check_against_oracle(model, CAPTION, 64, 64, seed=3, settings=settings)


def test_two_captions_of_different_lengths(model):
    check_against_oracle(model, [CAPTION, NON_ASCII], 48, 48, seed=5, settings=preset("V4_TURBO_12"))


def test_batch_of_two_images_per_caption(model):
    check_against_oracle(model, NON_ASCII, 48, 64, seed=9, settings=preset("V4_TURBO_12"), batch_size=2)


def test_guidance_one_skips_the_unconditional_branch(model, monkeypatch):
    settings = SamplingSettings(steps=4, guidance=1.0, polish_steps=0, polish_guidance=1.0, mu=0.0, std=1.0)
    check_against_oracle(model, CAPTION, 48, 48, seed=1, settings=settings)
