"""Sampler behaviour beyond the oracle comparisons: callbacks, stopping, guidance edge cases."""

import pytest
import torch

from ideogram4_core.errors import Ideogram4Error
from ideogram4_core.models.transformer import Ideogram4Transformer, TransformerConfig
from ideogram4_core.sampling.sampler import SamplingStopped, initial_noise, pack_text, sample
from ideogram4_core.sampling.schedule import SamplingSettings

CFG = TransformerConfig(
    num_layers=1, attention_head_dim=64, num_attention_heads=1, intermediate_size=64, adaln_dim=16,
    llm_features_dim=24, mrope_section=(8, 8, 8),
)  # fmt: skip
GRID, SIZE = (2, 3), (48, 32)


def model(seed: int) -> Ideogram4Transformer:
    torch.manual_seed(seed)
    return Ideogram4Transformer(CFG).eval()


def settings(steps=4, guidance=5.0, polish=1) -> SamplingSettings:
    return SamplingSettings(steps=steps, guidance=guidance, polish_steps=polish, polish_guidance=2.0, mu=0.0, std=1.0)


def test_callback_sees_every_step_and_the_final_prediction():
    seen = []
    text = [torch.randn(5, 24)]
    out = sample(model(0), model(1), text, initial_noise(0, 1, 6), GRID, SIZE, settings(),
                 callback=lambda i, n, x, x0: seen.append((i, n, x.clone(), x0.clone())))  # fmt: skip
    assert [(i, n) for i, n, _, _ in seen] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    # The last step lands on σ = 0, where the latent is the predicted clean latent.
    torch.testing.assert_close(seen[-1][2], seen[-1][3])
    assert torch.equal(out, seen[-1][2])


def test_callback_can_stop_the_run():
    with pytest.raises(SamplingStopped, match="after step 2 of 4"):
        sample(model(0), model(1), [torch.randn(5, 24)], initial_noise(0, 1, 6), GRID, SIZE, settings(),
               callback=lambda i, n, x, x0: i == 1)  # fmt: skip


def test_guidance_one_needs_no_unconditional_model_and_zero_needs_no_text_pass():
    noise, text = initial_noise(3, 1, 6), [torch.randn(5, 24)]
    cond_only = sample(model(0), None, text, noise, GRID, SIZE, settings(guidance=1.0, polish=0))
    assert cond_only.shape == (1, 6, 128)
    with pytest.raises(Ideogram4Error, match="needs the unconditional transformer"):
        sample(model(0), None, text, noise, GRID, SIZE, settings())
    uncond_only = sample(model(0), model(1), text, noise, GRID, SIZE, settings(guidance=0.0, polish=0))
    other_text = sample(model(0), model(1), [torch.randn(9, 24)], noise, GRID, SIZE, settings(guidance=0.0, polish=0))
    assert torch.equal(uncond_only, other_text)


def test_pack_text_shares_one_caption_and_masks_only_mixed_lengths():
    a, b = torch.randn(4, 24), torch.randn(2, 24)
    shared, mask = pack_text([a, a, a])
    assert shared.shape == (3, 4, 24) and mask is None and shared.stride(0) == 0
    padded, mask = pack_text([a, b])
    assert padded.shape == (2, 4, 24) and mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert torch.equal(padded[1, :2], b) and not padded[1, 2:].any()
