"""The cost model and the memory planner: exact parameter and FLOP counts, choices that fit, streaming that
keeps the result, and the `inspect --plan` report."""

from __future__ import annotations

import json
from dataclasses import asdict

import fixtures_model
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ideogram4_core.cli.main import main
from ideogram4_core.errors import Ideogram4Error
from ideogram4_core.memory_plan import (
    NO_STREAMING,
    STREAM_ALL,
    STREAM_UNCOND,
    TWO_MODELS,
    Weights,
    choose,
    options,
    streamed_branches,
)
from ideogram4_core.models.costs import forward_flops, parameter_counts, weight_bytes
from ideogram4_core.models.transformer import Ideogram4Transformer, TransformerConfig
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import SamplingSettings

GIB = 2**30


def test_parameter_counts_equal_the_reference_model():
    from diffusers import Ideogram4Transformer2DModel

    cfg = TransformerConfig()
    with torch.device("meta"):
        reference = Ideogram4Transformer2DModel(**asdict(cfg))
    assert parameter_counts(cfg).total == sum(p.numel() for p in reference.parameters())
    assert weight_bytes(cfg, "bf16") == 2 * parameter_counts(cfg).total


@pytest.mark.parametrize("text", [0, 7])
def test_forward_flops_equal_torch_flop_counter(text):
    """Every matmul as FlopCounterMode counts it; its CPU SDPA kernel is not counted, so attention
    (QKᵀ and AV: 4·B·layers·S²·hidden) is added."""
    cfg = TransformerConfig(num_layers=2, attention_head_dim=64, num_attention_heads=2, intermediate_size=96,
                            adaln_dim=32, llm_features_dim=48, mrope_section=(8, 8, 8))  # fmt: skip
    model = Ideogram4Transformer(cfg).eval()
    grid, x = (3, 4), torch.randn(2, 12, 128)
    text_features = torch.randn(2, text, 48) if text else None
    with torch.inference_mode():
        inputs = model.prepare(model.rotary(text, grid, x.device), text_features)
        with FlopCounterMode(display=False) as counter:
            model.run(x, torch.tensor([0.2, 0.6]), inputs)
    attention = 4 * 2 * cfg.num_layers * (text + 12) ** 2 * cfg.hidden_size
    assert counter.get_total_flops() + attention == forward_flops(cfg, text, 12, batch=2)


def test_choice_is_the_first_option_that_fits():
    rows = options(TransformerConfig(), 1024, 1024, 600)
    resident = [row for row in rows if row.branches == TWO_MODELS and row.streaming == NO_STREAMING]
    assert [row.fmt for row in resident] == ["bf16", "fp8", "nf4"]
    assert resident[0].peak_bytes > 2 * weight_bytes(TransformerConfig(), "bf16")
    for budget in (80 * GIB, 24 * GIB, 12 * GIB, 8 * GIB):
        chosen = choose(rows, budget)
        assert chosen is not None and chosen.fits(budget)
        assert not any(row.fits(budget) for row in rows[: rows.index(chosen)])
    assert (choose(rows, 80 * GIB).fmt, choose(rows, 80 * GIB).streaming) == ("bf16", NO_STREAMING)
    assert (choose(rows, 24 * GIB).fmt, choose(rows, 24 * GIB).streaming) == ("fp8", NO_STREAMING)
    assert choose(rows, 1 * GIB) is None


def test_streaming_trades_resident_blocks_for_copies():
    cfg = TransformerConfig()
    rows = {(r.fmt, r.branches, r.streaming): r for r in options(cfg, 2048, 2048, 600)}
    none, uncond, both = (rows[("fp8", TWO_MODELS, s)] for s in (NO_STREAMING, STREAM_UNCOND, STREAM_ALL))
    blocks = Weights.computed(cfg, "fp8").block * cfg.num_layers
    assert none.peak_bytes > uncond.peak_bytes > both.peak_bytes
    assert (none.copy_bytes_per_step, uncond.copy_bytes_per_step, both.copy_bytes_per_step) == (0, blocks, 2 * blocks)
    assert rows[("fp8", TWO_MODELS, NO_STREAMING)].peak_bytes < rows[("bf16", TWO_MODELS, NO_STREAMING)].peak_bytes


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The tiny official-layout model with four blocks, so that streaming holds fewer blocks than resident."""
    folder = tmp_path_factory.mktemp("plan")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(fixtures_model.TINY_DIT, "num_layers", 4)
        fixtures_model.write_official_model(folder, seed=3)
    return folder


def test_budget_streams_and_keeps_the_image(folder, monkeypatch):
    paths = ModelPaths.from_folder(folder)
    settings = SamplingSettings(steps=3, guidance=4.0, polish_steps=1, polish_guidance=2.0, mu=0.0, std=1.0)
    cpu = torch.device("cpu")
    resident = Ideogram4Pipeline(paths, device=cpu, dtype=torch.float32)
    exact = resident.generate("a poster", width=64, height=64, seed=1, settings=settings).tokens
    assert resident.streamed(True, 16, (64, 64), 1) == frozenset()  # no budget: everything resident
    tight = Ideogram4Pipeline(paths, device=cpu, dtype=torch.float32, vram_budget=_budget_for(resident, STREAM_ALL))
    assert tight.streamed(True, 16, (64, 64), 1) == {"cond", "uncond"}
    streamed = tight.generate("a poster", width=64, height=64, seed=1, settings=settings).tokens
    assert torch.equal(streamed, exact)
    with pytest.raises(Ideogram4Error, match=r"budget.*inspect --plan"):
        Ideogram4Pipeline(paths, device=cpu, dtype=torch.float32, vram_budget=1).streamed(True, 16, (64, 64), 1)
    assert streamed_branches(STREAM_UNCOND, TWO_MODELS) == {"uncond"}


def _budget_for(pipeline: Ideogram4Pipeline, streaming: str) -> int:
    """A budget that fits streaming everything but not streaming only the unconditional branch."""
    pipeline.vram_budget = 1 << 50
    from ideogram4_core.memory_plan import options as plan_options
    from ideogram4_core.weights.identify import identify
    from ideogram4_core.weights.resident import resident_bytes
    from ideogram4_core.weights.transformer_weights import read_transformer_config

    cfg = read_transformer_config(pipeline.paths.transformer)
    stored = Weights.of_total(cfg, resident_bytes(identify(pipeline.paths.transformer), torch.float32))
    rows = {r.streaming: r for r in plan_options(cfg, 64, 64, 16, weights={"s": (stored, stored)},
                                                 branch_modes=[TWO_MODELS], compute_bytes=4)}  # fmt: skip
    pipeline.vram_budget = None
    assert rows[STREAM_ALL].peak_bytes < rows[STREAM_UNCOND].peak_bytes
    return rows[STREAM_ALL].peak_bytes


def test_inspect_plan_reports_json(folder, capsys):
    assert main(["inspect", "--plan", "--vram-budget", "24"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["computed"] and report["recommended"]["format"] == "fp8" and report["recommended"]["fits"]
    assert {row["format"] for row in report["options"]} == {"bf16", "fp8", "nf4"}
    assert main(["inspect", "--plan", str(folder), "--vram-budget", "0.5", "--width", "512", "--height", "512"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["recommended"] is None and report["options"][0]["format"] == "as stored"
    assert report["blocks"] == json.loads((folder / "transformer" / "config.json").read_text())["num_layers"]
    assert main(["inspect"]) == 2 and "--plan" in capsys.readouterr().err
