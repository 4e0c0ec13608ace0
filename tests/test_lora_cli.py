"""The CLI's LoRA flags (`generate --lora/--unconditional-lora/--unconditional-from-conditional`, few-step preset)
and `inspect` on LoRA files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from fixtures_checkpoints import write_headers
from fixtures_lora import random_adapters, write_lora
from fixtures_model import write_official_model
from PIL import Image
from test_cli import CAPTION, run_cli

from ideogram4_core.cli import main
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import SamplingSettings, preset
from ideogram4_core.weights.lora import LoraChoice, LoraRequest

FUSED = ["layers.0.attention.qkv", "layers.1.feed_forward.w1"]
FLUX_LORA = {
    "lora_unet_single_blocks_0_linear1.lora_down.weight": ("F32", (2, 8)),
    "lora_unet_single_blocks_0_linear1.lora_up.weight": ("F32", (8, 2)),
}
COMMON = ["--caption", CAPTION, "--width", 48, "--height", 32, "--seed", 4]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lora_cli")
    oracle = write_official_model(folder / "repo")
    lone = folder / "lone"
    shutil.copytree(folder / "repo", lone, ignore=shutil.ignore_patterns("unconditional_transformer"))
    cond = write_lora(folder / "style.safetensors", random_adapters(oracle.transformer, FUSED, 2, 1), "ai-toolkit")
    uncond = write_lora(folder / "uncond.safetensors", random_adapters(oracle.transformer, FUSED, 3, 2, 3.0), "kohya")
    return folder, lone, cond, uncond


def test_single_model_mode_with_loras(setup, capsys):
    folder, lone, cond, uncond = setup
    out = folder / "single.png"
    code, err = run_cli(
        capsys,
        "generate",
        "--model",
        lone,
        *COMMON,
        "--preset",
        "V4_TURBO_12",
        "--lora",
        f"{cond}:0.7",
        "--unconditional-lora",
        uncond,
        "--unconditional-from-conditional",
        "--output",
        out,
    )
    assert code == 0, err
    assert "LoRA style.safetensors @ 0.7, unconditional LoRA uncond.safetensors @ 1, single-model mode" in err
    choice = LoraChoice((LoraRequest(cond, 0.7),), (LoraRequest(uncond),), unconditional_from_conditional=True)
    pipeline = Ideogram4Pipeline(
        ModelPaths.from_folder(lone, unconditional=False), device=torch.device("cpu"), dtype=torch.float32, loras=choice
    )
    expected = pipeline.generate(CAPTION, width=48, height=32, seed=4, settings=preset("V4_TURBO_12")).images[0]
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))
    assert "single-model mode" in Image.open(out).text["ideogram4_settings"]


def test_few_step_preset_needs_no_unconditional_model(setup, capsys):
    folder, lone, cond, _ = setup
    code, err = run_cli(
        capsys,
        "generate",
        "--model",
        lone,
        *COMMON,
        "--preset",
        "few_step_8",
        "--steps",
        3,
        "--lora",
        cond,
        "--unconditional-from-conditional",
        "--output",
        folder / "fast.png",
    )
    assert code == 0, err
    assert "3 steps, guidance 1" in err and "step 3/3" in err
    assert preset("FEW_STEP_4") == SamplingSettings(4, 1.0, 0, 1.0, 0.0, 1.75)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("{cond}:strong", "The LoRA strength 'strong' in"),
        ("{folder}/missing.safetensors", "LoRA file not found"),
        ("{folder}/flux.safetensors", "flux.safetensors is a FLUX.1 LoRA, not an Ideogram 4 LoRA"),
    ],
)
def test_bad_lora_arguments(setup, capsys, argument, message):
    folder, _, cond, _ = setup
    write_headers(folder / "flux.safetensors", FLUX_LORA)
    code, err = run_cli(
        capsys,
        "generate",
        "--model",
        setup[0] / "repo",
        *COMMON,
        "--lora",
        argument.format(cond=cond, folder=folder),
        "--output",
        folder / "bad.png",
    )
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def _inspect(capsys, path) -> tuple[int, dict]:
    code = main(["inspect", str(path)])
    return code, json.loads(capsys.readouterr().out)


def test_inspect_reports_a_lora(setup, capsys):
    folder, _, cond, uncond = setup
    code, report = _inspect(capsys, uncond)
    assert code == 0 and report["family"] == "lora" and report["usable"]
    assert report["use_as"] == "--unconditional-lora / IG4_LoraLoader strength_uncond"
    lora = report["lora"]
    assert (lora["layout"], lora["rank"], lora["alpha"], lora["blocks"]) == ("kohya", 3, 3.0, [0, 1])
    assert lora["modules"] == ["attention.qkv", "feed_forward.w1"] and not lora["fits_released_model"]
    assert _inspect(capsys, cond)[1]["lora"]["branch"].startswith("conditional")
    flux = write_headers(folder / "flux_inspect.safetensors", FLUX_LORA)
    code, report = _inspect(capsys, flux)
    assert code == 1 and not report["usable"] and "is a FLUX.1 LoRA" in report["problem"]
