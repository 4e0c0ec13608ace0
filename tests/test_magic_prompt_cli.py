"""`python -m ideogram4_core magic-prompt`: official repo layout and components, revise, a reference image on
the Hugging Face original, and the refusals (a text-only encoder with --image among them)."""

from __future__ import annotations

import json

import pytest
from fixtures_text import (  # noqa: F401 (one_thread: a fixture)
    one_thread,
    tiny_qwen3_vl_lm,
    write_encoder_with_head,
    write_hf_original,
    write_tokenizer,
)
from PIL import Image
from safetensors.torch import save_file

from ideogram4_core.caption import verify_text
from ideogram4_core.cli.main import main
from ideogram4_core.models.lm_head import HEAD_FOLDER

BUDGET = ["--max-new-tokens", "160"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """An official-layout repo (text_encoder/ head-less, tokenizer/, prompt_enhancer_head/)."""
    root = tmp_path_factory.mktemp("ideogram4")
    model = tiny_qwen3_vl_lm(seed=2)
    model.model.save_pretrained(root / "text_encoder")
    write_tokenizer(root / "tokenizer")
    head = root / HEAD_FOLDER
    head.mkdir()
    save_file({"lm_head.weight": model.lm_head.weight.detach().clone()}, head / "diffusion_pytorch_model.safetensors")
    config = {"_class_name": "Ideogram4PromptEnhancerHead", "hidden_size": 32, "vocab_size": 151936}
    (head / "config.json").write_text(json.dumps(config))
    return root


def _run(*argv) -> int:
    return main([str(a) for a in argv])


def test_model_folder_and_components_write_the_same_caption(repo, tmp_path, capsys):
    common = ["a lighthouse at dusk", "--width", 1024, "--height", 768, "--seed", 3, "--device", "cpu", *BUDGET]
    assert _run("magic-prompt", *common, "--model", repo, "--output", tmp_path / "a.json") == 0
    assert "tokens/s" in capsys.readouterr().out
    components = ["--text-encoder", repo / "text_encoder", "--lm-head", repo / HEAD_FOLDER]
    assert _run("magic-prompt", *common, *components, "--output", tmp_path / "b.json") == 0
    caption = (tmp_path / "a.json").read_text(encoding="utf-8")
    assert verify_text(caption.strip()).valid
    assert caption == (tmp_path / "b.json").read_text(encoding="utf-8")

    revised = tmp_path / "winter.json"
    argv = ["make it a winter edition", "--width", 1024, "--height", 768, "--revise", tmp_path / "a.json", *BUDGET]
    assert _run("magic-prompt", *argv, "--model", repo, "--device", "cpu", "--output", revised) == 0
    assert verify_text(revised.read_text(encoding="utf-8").strip()).valid


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--image", "ref.png"], "ref.png does not exist"),
        (["--text-encoder", "x"], "either --model DIR or --text-encoder"),
        (["--revise", "missing.json"], "Cannot read the caption to revise"),
        (["--max-new-tokens", "20"], "too small for a caption"),
    ],
)
def test_bad_input(repo, tmp_path, capsys, extra, message):
    argv = [
        "idea",
        "--model",
        repo,
        "--width",
        512,
        "--height",
        512,
        "--device",
        "cpu",
        "--output",
        tmp_path / "c.json",
    ]
    assert _run("magic-prompt", *argv, *extra) == 2
    assert message in capsys.readouterr().err


def test_missing_head_names_where_it_goes(tmp_path, capsys):
    tiny_qwen3_vl_lm(seed=1).model.save_pretrained(tmp_path / "text_encoder")
    argv = ["idea", "--text-encoder", tmp_path / "text_encoder", "--width", 512, "--height", 512, "--device", "cpu"]
    assert _run("magic-prompt", *argv, "--output", tmp_path / "c.json") == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / HEAD_FOLDER}" in err and "--lm-head" in err


def test_reference_image_on_the_hf_original(tmp_path, capsys):
    write_hf_original(tmp_path / "Qwen3-VL", seed=4)
    Image.effect_noise((60, 40), 64).convert("RGB").save(tmp_path / "ref.png")
    argv = ["same layout, but for a bakery", "--text-encoder", tmp_path / "Qwen3-VL", "--width", 768, "--height", 1024]
    argv += ["--image", tmp_path / "ref.png", "--device", "cpu", *BUDGET]
    assert _run("magic-prompt", *argv, "--output", tmp_path / "a.json") == 0
    assert "tokens/s" in capsys.readouterr().out
    assert verify_text((tmp_path / "a.json").read_text(encoding="utf-8").strip()).valid


def test_reference_image_without_a_vision_tower(tmp_path, capsys):
    file = write_encoder_with_head(tmp_path / "text_encoders", "qwen3vl_tiny.safetensors")
    Image.new("RGB", (32, 32), "red").save(tmp_path / "ref.png")
    argv = ["", "--text-encoder", file, "--width", 512, "--height", 512, "--image", tmp_path / "ref.png"]
    assert _run("magic-prompt", *argv, "--device", "cpu", "--output", tmp_path / "c.json") == 2
    err = capsys.readouterr().err
    assert "qwen3vl_tiny.safetensors is a single file" in err and "Qwen3-VL-8B-Instruct folder" in err
