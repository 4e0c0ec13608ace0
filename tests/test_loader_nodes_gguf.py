"""The loader nodes with GGUF files: a cond/uncond pair under unet_gguf (ComfyUI-GGUF's folder) in `cond/` and
`uncond/` folders, a Qwen3-VL text encoder GGUF under text_encoders with its own vocabulary."""

from __future__ import annotations

import importlib
import types
from pathlib import Path

import pytest
from comfy_stub import FakeComfy, comfy_api_modules, forget_pack, import_pack
from diffusers import Ideogram4Transformer2DModel
from fixtures_gguf import prefer, write_gguf_text_encoder, write_gguf_transformer
from fixtures_model import randomized
from fixtures_quant import SINGLE_FILE_DIT
from fixtures_text import tiny_qwen3_vl

KINDS = ("diffusion_models", "unet_gguf", "diffusers", "text_encoders", "vae")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    for kind in KINDS:
        (root / kind).mkdir()
    for seed, branch in enumerate(("cond", "uncond")):
        (root / "unet_gguf" / branch).mkdir()
        model = randomized(Ideogram4Transformer2DModel(**SINGLE_FILE_DIT), seed)
        write_gguf_transformer(root / "unet_gguf" / branch / "ideogram-4-Q8_0.gguf", model, prefer("Q8_0"))
    write_gguf_text_encoder(root / "text_encoders" / "Qwen3-VL-8B-Q8_0.gguf", tiny_qwen3_vl(seed=1), prefer("Q8_0"))
    return root


@pytest.fixture
def loaders(models: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    fake = FakeComfy({kind: [models / kind] for kind in KINDS})
    import_pack(monkeypatch, comfy_api_modules() | fake.modules())
    yield importlib.import_module("ig4pack.nodes.loaders")
    forget_pack()


def test_gguf_pair_is_listed_paired_and_kept_quantised(loaders):
    options = {i.id: i for i in loaders.IG4_ModelLoader.define_schema().inputs}["model"].options
    assert options == ["cond/ideogram-4-Q8_0.gguf", "uncond/ideogram-4-Q8_0.gguf"]
    out = loaders.IG4_ModelLoader.execute(model=options[0], unconditional_model="auto", weight_format="auto")
    value = out.values[0]
    assert type(value.cond.model.layers[0].attention.qkv).__name__ == "GgufLinear"
    assert type(value.uncond.model.layers[0].attention.qkv).__name__ == "GgufLinear"
    assert "(gguf Q8_0)" in out.ui["text"][0]
    errors = importlib.import_module("ig4pack.ideogram4_core.errors")
    with pytest.raises(errors.ModelFileError, match="swapped"):
        loaders.IG4_ModelLoader.execute(model=options[1], unconditional_model="auto", weight_format="auto")


def test_gguf_text_encoder_with_its_own_vocabulary(loaders):
    schema = loaders.IG4_TextEncoderLoader.define_schema()
    assert {i.id: i for i in schema.inputs}["text_encoder"].options == ["Qwen3-VL-8B-Q8_0.gguf"]
    out = loaders.IG4_TextEncoderLoader.execute(text_encoder="Qwen3-VL-8B-Q8_0.gguf", tokenizer="auto")
    encoder = out.values[0].encoder()
    assert encoder.count_tokens("a red fox") == 11  # template (8) + "a", " red", " fox"
    assert encoder.encode(["a red fox"])[0].shape == (11, encoder.feature_dim)
    assert "tokenizer: the vocabulary in the GGUF" in out.ui["text"][0]
