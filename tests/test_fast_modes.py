"""Opt-in fast modes: off means exact; the step cache skips only what it says; progressive hands over cleanly."""

from dataclasses import replace

import pytest
import torch
from test_sampler import CFG, GRID, SIZE, settings

from ideogram4_core.errors import Ideogram4Error
from ideogram4_core.models.transformer import Ideogram4Transformer
from ideogram4_core.sampling.fast_modes import FastModes, sample_fast
from ideogram4_core.sampling.progressive import pool_noise, resize_tokens
from ideogram4_core.sampling.sampler import StartLatent, initial_noise, sample
from ideogram4_core.sampling.step_cache import FirstBlockCache


def model(seed: int) -> Ideogram4Transformer:
    """Three blocks, so the cache has blocks to skip."""
    torch.manual_seed(seed)
    return Ideogram4Transformer(replace(CFG, num_layers=3)).eval()


TEXT = [torch.randn(5, 24, generator=torch.Generator().manual_seed(0))]


def test_fast_modes_off_are_the_exact_sampler():
    noise = initial_noise(1, 1, 6)
    exact = sample(model(0), model(1), TEXT, noise, GRID, SIZE, settings())
    off = sample_fast(model(0), model(1), TEXT, noise, GRID, SIZE, settings(), fast=FastModes())
    assert torch.equal(exact, off)


def test_step_cache_reuses_the_rest_residual_of_the_last_full_step():
    cond = model(0)
    cache = FirstBlockCache(cond, threshold=1e9)  # every step after the first is skipped
    x, t = torch.randn(1, 6, 128), torch.tensor([0.3])
    inputs = cond.prepare(cond.rotary(5, GRID, x.device), TEXT[0][None])
    with torch.inference_mode():
        full = cache(x, t, inputs)
        assert torch.equal(full, cond.run(x, t, inputs)) and cache.skipped == 0
        x2, t2 = x + 0.1, torch.tensor([0.5])
        skipped = cache(x2, t2, inputs)
        adaln = cond.time_conditioning(t2)
        h0 = cond.embed(x2, inputs)
        h1 = inputs.blocks[0](h0, adaln, inputs.rope, inputs.mask)
        h0_prev = cond.embed(x, inputs)
        h1_prev = inputs.blocks[0](h0_prev, cond.time_conditioning(t), inputs.rope, inputs.mask)
        h_prev = h1_prev
        for block in inputs.blocks[1:]:
            h_prev = block(h_prev, cond.time_conditioning(t), inputs.rope, inputs.mask)
        expected = cond.head(h1 + (h_prev - h1_prev), adaln, 6)
    assert cache.skipped == 1 and cache.steps == 2
    torch.testing.assert_close(skipped, expected)


def test_step_cache_threshold_zero_never_skips_and_a_large_one_changes_the_result():
    noise = initial_noise(2, 1, 6)
    exact = sample(model(0), model(1), TEXT, noise, GRID, SIZE, settings(steps=6))
    zero = sample(model(0), model(1), TEXT, noise, GRID, SIZE, settings(steps=6), step_cache=0.0)
    cached = sample(model(0), model(1), TEXT, noise, GRID, SIZE, settings(steps=6), step_cache=1e9)
    assert torch.equal(exact, zero)
    assert not torch.equal(exact, cached) and torch.isfinite(cached).all()


def test_bad_fast_mode_values_are_refused():
    with pytest.raises(Ideogram4Error, match="step cache threshold must be ≥ 0"):
        FastModes(step_cache=-1)
    with pytest.raises(Ideogram4Error, match=r"progressive fraction must be in \[0, 1\)"):
        FastModes(progressive=1.0)
    with pytest.raises(Ideogram4Error, match="starts from noise"):
        sample_fast(model(0), model(1), TEXT, initial_noise(0, 1, 6), GRID, SIZE, settings(),
                    start=StartLatent(torch.zeros(1, 6, 128), 0.5), fast=FastModes(progressive=0.5))  # fmt: skip


def test_pooled_noise_stays_standard_normal_and_resizing_to_the_same_grid_is_identity():
    noise = initial_noise(0, 1, 64 * 64)
    pooled = pool_noise(noise, (64, 64))
    assert pooled.shape == (1, 32 * 32, 128)
    assert abs(float(pooled.mean())) < 0.01 and abs(float(pooled.std()) - 1.0) < 0.01
    tokens = torch.randn(2, 12, 128)
    torch.testing.assert_close(resize_tokens(tokens, (3, 4), (3, 4)), tokens, atol=1e-4, rtol=1e-4)


def test_progressive_reports_every_step_at_full_size():
    grid, size = (4, 6), (96, 64)
    seen = []
    out = sample_fast(model(0), model(1), TEXT, initial_noise(3, 1, 24), grid, size, settings(steps=6),
                      callback=lambda i, n, x, x0: seen.append((i, n, tuple(x.shape), tuple(x0.shape))),
                      fast=FastModes(progressive=0.5))  # fmt: skip
    assert [(i, n) for i, n, _, _ in seen] == [(i, 6) for i in range(6)]
    assert {s for _, _, s, _ in seen} == {(1, 24, 128)} and out.shape == (1, 24, 128)
    exact = sample(model(0), model(1), TEXT, initial_noise(3, 1, 24), grid, size, settings(steps=6))
    assert not torch.equal(out, exact) and torch.isfinite(out).all()


def test_compiled_blocks_match_eager_blocks_without_graph_breaks():
    """Dynamo captures each block whole (aot_eager: the graph torch.compile hands to inductor, without the C++
    compile that takes minutes on a small CPU); one graph serves every block of a shape; output within 1e-5."""
    from torch._dynamo.utils import counters

    from ideogram4_core.models.compile import compiled_blocks

    torch._dynamo.reset()
    counters.clear()
    cond = model(0)
    x, t = torch.randn(1, 6, 128), torch.tensor([0.3])
    rope = cond.rotary(5, GRID, x.device)
    eager = cond.prepare(rope, TEXT[0][None])
    compiled = cond.prepare(rope, TEXT[0][None], blocks=compiled_blocks(cond, "aot_eager"))
    with torch.inference_mode():
        expected, got = cond.run(x, t, eager), cond.run(x, t, compiled)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not counters["graph_break"] and counters["stats"]["unique_graphs"] == 1
    assert compiled_blocks(cond, "aot_eager")[0] is compiled.blocks[0]  # cached per block


def test_sampler_compile_option_runs_compiled_blocks(monkeypatch):
    """`FastModes(compile=True)` reaches both branches' blocks (also through progressive resolution)."""
    from ideogram4_core.sampling import sampler

    seen = []

    def fake_compiled(model, backend):
        seen.append(backend)
        return list(model.layers)

    monkeypatch.setattr(sampler, "compiled_blocks", fake_compiled)
    noise = initial_noise(3, 1, 6)
    exact = sample(model(0), model(1), TEXT, noise, GRID, SIZE, settings())
    assert torch.equal(exact, sample_fast(model(0), model(1), TEXT, noise, GRID, SIZE, settings(),
                                          fast=FastModes(compile=True)))  # fmt: skip
    assert seen == ["inductor", "inductor"]
    sample_fast(model(0), model(1), TEXT, initial_noise(3, 1, 24), (4, 6), (96, 64), settings(),
                fast=FastModes(progressive=0.5, compile=True))  # fmt: skip
    assert seen == ["inductor"] * 6 and FastModes(compile=True).describe() == "compiled"
