"""The command line: demo, generate on the official layout and on component paths, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures_model import write_official_model
from PIL import Image
from safetensors.torch import load_file, save_file

from ideogram4_core.cli import main
from ideogram4_core.errors import Ideogram4Error
from ideogram4_core.sampling.sizes import check_size

CAPTION = '{"compositional_deconstruction":{"background":"teal wall","elements":[]}}'


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    folder = tmp_path_factory.mktemp("official")
    write_official_model(folder)
    return folder


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_demo_module_entry_point(tmp_path):
    out = tmp_path / "demo.png"
    done = subprocess.run(
        [sys.executable, "-m", "ideogram4_core", "demo", "--output", out, "--width", "64", "--height", "48"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (64, 48)


def test_generate_official_folder_and_components_agree(official, tmp_path, capsys):
    common = ["--caption", CAPTION, "--width", 48, "--height", 32, "--seed", 4, "--preset", "v4_turbo_12"]
    code, err = run_cli(
        capsys, "generate", "--model", official, *common, "--output", tmp_path / "a.png", "--batch-size", 2,
        "--save-latent", tmp_path / "a.safetensors",
    )  # fmt: skip
    assert code == 0, err
    assert "step 12/12" in err
    caption_file = tmp_path / "caption.json"
    caption_file.write_text(CAPTION, encoding="utf-8")
    code, err = run_cli(
        capsys, "generate", "--transformer", official / "transformer",
        "--unconditional-transformer", official / "unconditional_transformer",
        "--text-encoder", official / "text_encoder", "--tokenizer", official / "tokenizer", "--vae", official / "vae",
        "--caption-file", caption_file, *common[2:], "--output", tmp_path / "b.png",
    )  # fmt: skip
    assert code == 0, err
    first = np.asarray(Image.open(tmp_path / "a_1.png"))
    assert first.shape == (32, 48, 3)
    # The first image of a batch uses the same noise as a single image; batching changes only rounding.
    assert np.abs(first.astype(int) - np.asarray(Image.open(tmp_path / "b.png")).astype(int)).max() <= 2
    assert Image.open(tmp_path / "a_2.png").info["ideogram4_caption"] == CAPTION
    latent = load_file(tmp_path / "a.safetensors")["latent"]
    assert latent.dtype == torch.float32 and latent.shape == (2, 32, 4, 6)


def test_single_file_text_encoder_uses_the_bundled_tokenizer(official, tmp_path, capsys):
    """ComfyUI's text encoder is one file with no tokenizer beside it: the CLI needs no --tokenizer."""
    from fixtures_quant import write_comfy_text_encoder
    from transformers import AutoModel

    lone = tmp_path / "text_encoders"
    lone.mkdir()
    encoder = write_comfy_text_encoder(lone / "qwen3vl_tiny_fp8_scaled.safetensors", AutoModel.from_pretrained(
        official / "text_encoder"))  # fmt: skip
    components = ["--transformer", official / "transformer", "--vae", official / "vae", "--text-encoder", encoder]
    common = ["--caption", CAPTION, "--width", 32, "--height", 32, "--steps", 2, "--guidance", 1, "--polish-steps", 0]
    code, err = run_cli(capsys, "generate", *components, *common, "--output", tmp_path / "bundled.png")
    assert code == 0, err
    explicit = ["--tokenizer", official / "tokenizer", "--output", tmp_path / "explicit.png"]
    code, err = run_cli(capsys, "generate", *components, *common, *explicit)
    assert code == 0, err
    bundled, given = (np.asarray(Image.open(tmp_path / f"{n}.png")) for n in ("bundled", "explicit"))
    assert np.array_equal(bundled, given)


def test_explicit_settings_override_the_preset(official, tmp_path, capsys):
    code, err = run_cli(
        capsys, "generate", "--model", official, "--caption", CAPTION, "--width", 32, "--height", 32,
        "--steps", 3, "--guidance", 4, "--polish-steps", 1, "--polish-guidance", 2, "--mu", 0.1, "--std", 1.3,
        "--output", tmp_path / "c.png",
    )  # fmt: skip
    assert code == 0, err
    assert "3 steps, guidance 4 (1 polish @ 2), mu 0.1, std 1.3" in err


def _single_error(code: int, err: str) -> str:
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width", 40, "--height", 32], "width 40 is not a positive multiple of 16; use 32 or 48"),
        (["--caption", "   "], "The caption is empty"),
        (["--caption-file", "/nonexistent/caption.json"], "Cannot read the caption file"),
    ],
)
def test_bad_render_input(official, tmp_path, capsys, args, message):
    base = {"--caption": CAPTION, "--width": 32, "--height": 32}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base.pop("--caption" if flag == "--caption-file" else flag, None)
        base[flag] = value
    flat = [item for pair in base.items() for item in pair]
    code, err = run_cli(capsys, "generate", "--model", official, *flat, "--output", tmp_path / "x.png")
    assert message in _single_error(code, err)


def test_bad_model_folders(official, tmp_path, capsys):
    common = ["--caption", CAPTION, "--width", 32, "--height", 32, "--output", tmp_path / "x.png"]
    code, err = run_cli(capsys, "generate", "--model", tmp_path / "missing", *common)
    assert "Model folder not found" in _single_error(code, err)

    flux = tmp_path / "flux"
    flux.mkdir()
    (flux / "model_index.json").write_text(json.dumps({"_class_name": "Flux2Pipeline"}))
    code, err = run_cli(capsys, "generate", "--model", flux, *common)
    assert "holds a Flux2Pipeline model, not Ideogram 4" in _single_error(code, err)

    partial = tmp_path / "partial"
    (partial / "transformer").mkdir(parents=True)
    code, err = run_cli(capsys, "generate", "--model", partial, *common)
    assert "is missing unconditional_transformer/, text_encoder/, tokenizer/, vae/" in _single_error(code, err)


def test_wrong_file_as_transformer(official, tmp_path, capsys):
    flux_like = tmp_path / "flux1-dev.safetensors"
    save_file({"double_blocks.0.img_attn.qkv.weight": torch.zeros(6, 2)}, flux_like)
    code, err = run_cli(
        capsys, "generate", "--transformer", flux_like, "--text-encoder", official / "text_encoder",
        "--vae", official / "vae", "--caption", CAPTION, "--width", 32, "--height", 32, "--output", tmp_path / "x.png",
    )  # fmt: skip
    assert "is not an Ideogram 4 transformer" in _single_error(code, err)
    code, err = run_cli(capsys, "generate", "--transformer", flux_like, *["--caption", CAPTION, "--width", 32],
                        *["--height", 32, "--output", tmp_path / "x.png"])  # fmt: skip
    assert "Missing --text-encoder, --vae" in _single_error(code, err)


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ((1024, 1000), "height 1000 is not a positive multiple of 16"),
        ((128, 1024), "width 128 is outside 256–2048"),
        ((2048, 2064), "height 2064 is outside 256–2048"),
        ((2048, 320), "wider than 6:1"),
    ],
)
def test_full_size_models_enforce_the_size_range(size, message):
    with pytest.raises(Ideogram4Error, match=message):
        check_size(*size, full_size=True)
    check_size(1536, 256, full_size=True)
    check_size(16, 2064, full_size=False)


def test_swapped_transformers_are_refused_before_loading(official, tmp_path, capsys):
    code, err = run_cli(
        capsys, "generate", "--transformer", official / "transformer",
        "--unconditional-transformer", official / "transformer", "--text-encoder", official / "text_encoder",
        "--vae", official / "vae", "--caption", CAPTION, "--width", 32, "--height", 32, "--output", tmp_path / "x.png",
    )  # fmt: skip
    line = _single_error(code, err)
    assert "is not the unconditional Ideogram 4 transformer" in line and "use it as --transformer" in line
    assert "step 1/" not in err
