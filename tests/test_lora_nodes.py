"""Ideogram 4 · LoRA and the loader's single-model option, with stand-ins for ComfyUI: the chain gives the headless
pipeline's latents for the same LoRAs, the cached base model is never changed, and stacks grow on clones."""

from __future__ import annotations

import importlib
import types
from pathlib import Path

import pytest
import torch
from comfy_stub import FakeComfy, forget_pack
from fixtures_lora import Adapter, write_lora
from test_generation_nodes import CAPTION, SIZE, TURBO, _dynamic_combo

from ideogram4_core.demo import write_demo_model
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import PRESETS
from ideogram4_core.weights.lora import LoraChoice, LoraRequest
from ideogram4_core.weights.lora.reading import linear_shapes
from ideogram4_core.weights.transformer_weights import read_transformer_config


def demo_lora(file: Path, transformer: Path, modules: list[str], seed: int, layout: str = "kohya") -> Path:
    """Random adapters sized for the demo transformer, written in `layout`."""
    shapes = linear_shapes(read_transformer_config(transformer))
    gen = torch.Generator().manual_seed(seed)
    adapters = []
    for module in modules:
        rows, cols = shapes[module]
        adapters.append(Adapter(module, torch.randn(2, cols, generator=gen) * 0.2, torch.randn(rows, 2, generator=gen)))
    return write_lora(file, adapters, layout)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    folder = write_demo_model(root / "diffusers" / "ig4-demo")
    modules = ["layers.0.attention.qkv", "layers.0.feed_forward.w2", "final_layer.linear"]
    demo_lora(root / "loras" / "style.safetensors", folder / "transformer", modules, 1)
    demo_lora(root / "loras" / "uncond.safetensors", folder / "transformer", modules[:2], 2, "ai-toolkit")
    (root / "loras" / "flux.safetensors").write_bytes((root / "loras" / "style.safetensors").read_bytes())
    return folder


@pytest.fixture
def fake(repo: Path) -> FakeComfy:
    kinds = ("diffusion_models", "diffusers", "text_encoders", "vae", "loras")
    return FakeComfy({kind: [repo.parents[1] / kind] for kind in kinds})


@pytest.fixture
def pack(fake, monkeypatch):
    from comfy_stub import comfy_api_modules, import_pack

    modules = comfy_api_modules() | fake.modules()
    modules["comfy_api.latest"].io.DynamicCombo = _dynamic_combo()
    modules["comfy.model_management"].get_free_memory = lambda device=None: 1 << 40
    import_pack(monkeypatch, modules)
    names = ("loaders", "text_encode", "sampler", "lora")
    yield types.SimpleNamespace(**{n: importlib.import_module(f"ig4pack.nodes.{n}") for n in names})
    forget_pack()


def _sample(pack, model, repo):
    text_encoder = pack.loaders.IG4_TextEncoderLoader.execute(text_encoder="ig4-demo/text_encoder/", tokenizer="auto")
    conditioning = pack.text_encode.IG4_TextEncode.execute(text_encoder.values[0], CAPTION).values[0]
    out = pack.sampler.IG4_Sampler.execute(model, conditioning, seed=3, preset=TURBO, batch_size=1, **SIZE)
    return out.values[0]["samples"]


def _headless(repo: Path, choice: LoraChoice) -> torch.Tensor:
    paths = ModelPaths.from_folder(repo, unconditional=not choice.unconditional_from_conditional)
    pipeline = Ideogram4Pipeline(paths, device=torch.device("cpu"), dtype=torch.float32, loras=choice)
    result = pipeline.generate(CAPTION, seed=3, settings=PRESETS["V4_TURBO_12"], **SIZE)
    return result.tokens


def test_schema(pack):
    schema = pack.lora.IG4_LoraLoader.define_schema()
    assert (schema.node_id, schema.display_name) == ("IG4_LoraLoader", "Ideogram 4 · LoRA")
    assert [i.id for i in schema.inputs] == ["model", "lora", "strength_cond", "strength_uncond"]
    assert schema.inputs[1].options == ["flux.safetensors", "style.safetensors", "uncond.safetensors"]
    assert [o.kind for o in schema.outputs] == ["IDEOGRAM4_MODEL"]
    loader_inputs = {i.id: i for i in pack.loaders.IG4_ModelLoader.define_schema().inputs}
    assert loader_inputs["single_model"].default is False and loader_inputs["single_model"].optional


def test_chained_loras_match_the_pipeline_and_leave_the_base_untouched(pack, repo):
    base = pack.loaders.IG4_ModelLoader.execute(model="ig4-demo/", unconditional_model="auto", weight_format="auto")
    base = base.values[0]
    weights = {k: v.clone() for k, v in base.cond.model.state_dict().items()}
    lora = pack.lora.IG4_LoraLoader.execute
    first = lora(base, "style.safetensors", 0.8, 0.0)
    assert "style.safetensors (kohya, 3 layers): cond @ 0.8" in first.ui["text"][0]
    second = lora(first.values[0], "uncond.safetensors", -0.5, 0.7).values[0]
    loras = LoraChoice(
        (LoraRequest(repo.parents[1] / "loras" / "style.safetensors", 0.8),
         LoraRequest(repo.parents[1] / "loras" / "uncond.safetensors", -0.5)),
        (LoraRequest(repo.parents[1] / "loras" / "uncond.safetensors", 0.7),),
    )  # fmt: skip
    got = _sample(pack, second, repo)
    expected = pack.sampler.tokens_to_comfy(_headless(repo, loras), (3, 4))
    torch.testing.assert_close(got, expected)
    # Clones share the cached module; the base patchers carry no LoRA; the weights are unchanged.
    assert second.cond.model is base.cond.model and second.uncond.model is base.uncond.model
    assert base.cond.get_attachment("ideogram4_loras") is None and len(second.cond.attachments["ideogram4_loras"]) == 2
    assert all(torch.equal(weights[k], v) for k, v in base.cond.model.state_dict().items())
    assert not any(m._forward_hooks for m in base.cond.model.modules())
    plain = _sample(pack, base, repo)
    torch.testing.assert_close(plain, pack.sampler.tokens_to_comfy(_headless(repo, LoraChoice()), (3, 4)))
    # A strength change: a new clone of the same base, a different image.
    stronger = lora(base, "style.safetensors", 1.5, 0.0).values[0]
    assert stronger.cond.model is base.cond.model
    assert not torch.equal(_sample(pack, stronger, repo), _sample(pack, first.values[0], repo))


def test_single_model_mode(pack, repo, fake):
    loaded = pack.loaders.IG4_ModelLoader.execute(
        model="ig4-demo/", unconditional_model="auto", weight_format="auto", single_model=True
    )
    model = loaded.values[0]
    assert model.single_model and model.uncond.model is model.cond.model and len(model.patchers()) == 1
    assert "the conditional weights (single model)" in loaded.ui["text"][0]
    with_lora = pack.lora.IG4_LoraLoader.execute(model, "uncond.safetensors", 0.0, 1.0).values[0]
    got = _sample(pack, with_lora, repo)
    lora = LoraRequest(repo.parents[1] / "loras" / "uncond.safetensors")
    expected = _headless(repo, LoraChoice((), (lora,), unconditional_from_conditional=True))
    torch.testing.assert_close(got, pack.sampler.tokens_to_comfy(expected, (3, 4)))
    assert [len(models) for models, *_ in fake.loaded][-1] == 1  # one copy of the weights on the device


def test_errors(pack, repo):
    errors = importlib.import_module("ig4pack.ideogram4_core.errors")
    loaded = pack.loaders.IG4_ModelLoader.execute(model="ig4-demo/", unconditional_model="none", weight_format="auto")
    with pytest.raises(errors.Ideogram4Error, match="strength_uncond needs an unconditional branch"):
        pack.lora.IG4_LoraLoader.execute(loaded.values[0], "style.safetensors", 1.0, 0.5)
    with pytest.raises(errors.ModelFileError, match="not found in models/loras"):
        pack.lora.IG4_LoraLoader.execute(loaded.values[0], "gone.safetensors", 1.0, 0.0)
