"""The loader nodes on a tiny model in ComfyUI-style folders, with stand-ins for comfy_api and ComfyUI's runtime."""

from __future__ import annotations

import importlib
import os
import types
from pathlib import Path

import pytest
import torch
from comfy_stub import FakeComfy, FakePatcher, comfy_api_modules, forget_pack, import_pack
from fixtures_checkpoints import FOREIGN, write_headers
from fixtures_quant import BLOCK_LINEARS, official_fp8
from safetensors.torch import load_file, save_file

from ideogram4_core.demo import write_demo_model


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """models/ with a repo under diffusers and the repo's transformers as single files under diffusion_models."""
    root = tmp_path_factory.mktemp("models")
    repo = write_demo_model(root / "diffusers" / "ig4-demo")
    dm = root / "diffusion_models"
    dm.mkdir()
    for folder, name in (("transformer", "ig4_demo.safetensors"), ("unconditional_transformer", "ig4_demo_uncond.sft")):
        save_file(load_file(next((repo / folder).glob("*.safetensors"))), dm / name)
    write_headers(dm / "flux1-dev.safetensors", FOREIGN["flux1-dev.safetensors"][0])
    save_file(_official_fp8_blocks(load_file(dm / "ig4_demo.safetensors")), dm / "ig4_demo_fp8.safetensors")
    for kind in ("text_encoders", "vae"):
        (root / kind).mkdir()
    return root


def _official_fp8_blocks(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The block Linears in the official per-row fp8 layout, everything else as it was."""
    out = {}
    for name, tensor in tensors.items():
        layer = name.removesuffix(".weight")
        if name.endswith(".weight") and layer.endswith(BLOCK_LINEARS):
            stored, _ = official_fp8(layer, tensor.float())
            out |= {f"{layer}.{suffix}": value for suffix, value in stored.items()}
        else:
            out[name] = tensor
    return out


@pytest.fixture
def fake(models: Path) -> FakeComfy:
    kinds = ("diffusion_models", "diffusers", "text_encoders", "vae")
    return FakeComfy({kind: [models / kind] for kind in kinds})


@pytest.fixture
def loaders(fake: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    import_pack(monkeypatch, comfy_api_modules() | fake.modules())
    yield importlib.import_module("ig4pack.nodes.loaders")
    forget_pack()


def inputs(schema) -> dict[str, object]:
    return {i.id: i for i in schema.inputs}


def test_schemas(loaders):
    expected = {
        "IG4_ModelLoader": (
            "Ideogram 4 · Load Model",
            ["model", "unconditional_model", "weight_format", "compute_dtype", "block_streaming",
             "single_model"],
            "IDEOGRAM4_MODEL",
        ),
        "IG4_TextEncoderLoader": (
            "Ideogram 4 · Load Text Encoder", ["text_encoder", "tokenizer", "compute_dtype"], "IDEOGRAM4_TEXT_ENCODER",
        ),
        "IG4_VAELoader": ("Ideogram 4 · Load VAE", ["vae"], "IDEOGRAM4_VAE"),
    }  # fmt: skip
    for node_id, (display, names, output) in expected.items():
        schema = getattr(loaders, node_id).define_schema()
        assert (schema.node_id, schema.display_name, schema.category) == (node_id, display, "Ideogram 4")
        assert list(inputs(schema)) == names and [o.kind for o in schema.outputs] == [output]
    model = inputs(loaders.IG4_ModelLoader.define_schema())
    assert model["model"].options == ["ig4-demo/", "ig4_demo.safetensors", "ig4_demo_fp8.safetensors",
                                      "ig4_demo_uncond.sft"]  # fmt: skip
    assert model["weight_format"].options == ["auto", "exact fp8"]
    assert model["unconditional_model"].options[:2] == ["auto", "none"]
    encoder = inputs(loaders.IG4_TextEncoderLoader.define_schema())
    assert encoder["text_encoder"].options == ["ig4-demo/text_encoder/"]
    assert encoder["tokenizer"].options[:2] == ["auto", "ig4-demo/tokenizer/"]
    assert inputs(loaders.IG4_VAELoader.define_schema())["vae"].options == ["ig4-demo/vae/"]


@pytest.mark.parametrize("model", ["ig4-demo/", "ig4_demo.safetensors"])
def test_model_loader_loads_both_branches_on_the_offload_device(loaders, fake, model):
    out = loaders.IG4_ModelLoader.execute(model=model, unconditional_model="auto", weight_format="auto")
    value = out.values[0]
    assert isinstance(value.cond, FakePatcher) and isinstance(value.uncond, FakePatcher)
    assert value.patchers() == [value.cond, value.uncond] and value.patchers(with_uncond=False) == [value.cond]
    assert value.dtype == torch.float32 and value.stream is None and value.config.num_layers == 2
    assert {p.device.type for p in value.cond.model.parameters()} == {"cpu"}
    assert not torch.equal(value.cond.model.input_proj.weight, value.uncond.model.input_proj.weight)
    text = out.ui["text"][0]
    assert "cond: " in text and "uncond: " in text and "(fp32)" in text and "compute: float32" in text
    assert fake.texts and fake.texts[0][0] == "7" and not fake.loaded  # nothing goes to the GPU while loading


def test_model_loader_options(loaders):
    out = loaders.IG4_ModelLoader.execute(
        model="ig4_demo.safetensors", unconditional_model="none", weight_format="exact fp8",
        compute_dtype="bf16", block_streaming="always",
    )  # fmt: skip
    value = out.values[0]
    assert value.uncond is None and value.dtype == torch.bfloat16 and value.stream is True
    assert value.cond.model.input_proj.weight.dtype == torch.bfloat16 and "fp8" not in out.ui["text"][0]


def test_model_loader_fp8_paths(loaders, monkeypatch):
    """auto (and the former "auto + fp8 matmul") asks for fp8 matmuls, "exact fp8" dequantises; the info text
    says which path runs on the load device."""
    fp8 = importlib.import_module("ig4pack.ideogram4_core.weights.quant.fp8")

    def load(weight_format: str) -> tuple[list, str]:
        out = loaders.IG4_ModelLoader.execute(model="ig4_demo_fp8.safetensors", unconditional_model="none",
                                              weight_format=weight_format)  # fmt: skip
        return [m for m in out.values[0].cond.model.modules() if isinstance(m, fp8.Fp8Linear)], out.ui["text"][0]

    layers, text = load("auto")
    assert layers and all(m.fp8_matmul for m in layers)
    assert "compute: float32, fp8 dequantised per layer (exact: this device has no fp8 matmuls)" in text
    monkeypatch.setattr(fp8, "cuda_fp8_capable", lambda device: True)
    for weight_format, fast, line in (("auto", True, "fp8 matmuls"), ("auto + fp8 matmul", True, "fp8 matmuls"),
                                      ("exact fp8", False, "fp8 dequantised per layer (exact)")):  # fmt: skip
        layers, text = load(weight_format)
        assert all(m.fp8_matmul is fast for m in layers) and text.endswith(f"compute: float32, {line}")


def test_weight_format_validation(loaders):
    validate = loaders.IG4_ModelLoader.validate_inputs
    assert all(validate(weight_format=v) is True for v in ("auto", "exact fp8", "auto + fp8 matmul", None))
    assert validate(weight_format="fast") == "Unknown weight format 'fast'; choose one of auto, exact fp8."


def test_model_loader_errors(loaders):
    errors = importlib.import_module("ig4pack.ideogram4_core.errors")
    with pytest.raises(errors.ModelFileError, match="swapped"):
        loaders.IG4_ModelLoader.execute(model="ig4_demo_uncond.sft", unconditional_model="auto", weight_format="auto")
    with pytest.raises(errors.ModelFileError, match="not in the model folders"):
        loaders.IG4_ModelLoader.execute(model="flux1-dev.safetensors", unconditional_model="auto", weight_format="auto")


def test_fingerprint_is_stable_and_follows_the_files(loaders, models):
    node = loaders.IG4_ModelLoader
    first = node.fingerprint_inputs(model="ig4_demo.safetensors", unconditional_model="auto", weight_format="auto")
    again = node.fingerprint_inputs(model="ig4_demo.safetensors", unconditional_model="auto", weight_format="auto")
    assert first == again and len(first) == 2
    os.utime(models / "diffusion_models" / "ig4_demo_uncond.sft", ns=(1, 1))
    assert node.fingerprint_inputs(model="ig4_demo.safetensors", unconditional_model="auto") != first
    te = loaders.IG4_TextEncoderLoader.fingerprint_inputs(text_encoder="ig4-demo/text_encoder/", tokenizer="auto")
    assert any("tokenizer.json" in entry[0] for entry in te)
    assert loaders.IG4_VAELoader.fingerprint_inputs(vae="ig4-demo/vae/")


def test_text_encoder_and_vae_loaders(loaders, models):
    out = loaders.IG4_TextEncoderLoader.execute(text_encoder="ig4-demo/text_encoder/", tokenizer="auto")
    encoder = out.values[0]
    assert encoder.patcher.model.embed_tokens.weight.device.type == "cpu"
    features = encoder.encoder().encode(["a red fox"])
    assert features[0].shape[1] == encoder.encoder().feature_dim and "tokenizer:" in out.ui["text"][0]
    vae = loaders.IG4_VAELoader.execute(vae="ig4-demo/vae/").values[0]
    assert vae.path == models / "diffusers" / "ig4-demo" / "vae" and vae.dtype == torch.float32
    assert vae.patcher.model.decode(torch.zeros(1, 32, 2, 2)).shape[1] == 3
