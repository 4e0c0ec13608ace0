"""Text Encode → Sampler → VAE Decode (+ Caption Overlay) on the tiny demo model, with stand-ins for ComfyUI.

The chain must give the headless pipeline's image for the same seed and settings.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from comfy_stub import FakeComfy, comfy_api_modules, forget_pack, import_pack

from ideogram4_core.demo import write_demo_model
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import PRESETS

CAPTION = '{"compositional_deconstruction": {"background": "sky", "elements": [{"type": "obj", "bbox": [100, 100, 600, 500], "desc": "a kite"}]}}'  # noqa: E501
TURBO = {"preset": "Turbo (12 steps)"}
SIZE = dict(width=64, height=48)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return write_demo_model(tmp_path_factory.mktemp("models") / "diffusers" / "ig4-demo")


@pytest.fixture
def fake(repo: Path) -> FakeComfy:
    kinds = ("diffusion_models", "diffusers", "text_encoders", "vae")
    return FakeComfy({kind: [repo.parents[1] / kind] for kind in kinds})


def _dynamic_combo() -> SimpleNamespace:
    return SimpleNamespace(
        Input=lambda id, options, **kw: SimpleNamespace(kind="COMFY_DYNAMICCOMBO_V3", id=id, options=options, **kw),
        Option=lambda key, inputs: SimpleNamespace(key=key, inputs=inputs),
    )


@pytest.fixture
def pack(fake: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    modules = comfy_api_modules() | fake.modules()
    modules["comfy_api.latest"].io.DynamicCombo = _dynamic_combo()
    modules["comfy.model_management"].get_free_memory = lambda device=None: fake.free_memory
    fake.free_memory = 1 << 40
    import_pack(monkeypatch, modules)
    names = ("loaders", "text_encode", "sampler", "vae_decode", "caption_overlay")
    nodes = {n: importlib.import_module(f"ig4pack.nodes.{n}") for n in names}
    yield SimpleNamespace(**nodes, errors=importlib.import_module("ig4pack.ideogram4_core.errors"))
    forget_pack()


@pytest.fixture
def loaded(pack) -> SimpleNamespace:
    loaders = pack.loaders
    return SimpleNamespace(
        model=loaders.IG4_ModelLoader.execute(
            model="ig4-demo/", unconditional_model="auto", weight_format="auto"
        ).values[0],
        text_encoder=loaders.IG4_TextEncoderLoader.execute(
            text_encoder="ig4-demo/text_encoder/", tokenizer="auto"
        ).values[0],
        vae=loaders.IG4_VAELoader.execute(vae="ig4-demo/vae/").values[0],
    )


def _generate(pack, loaded, **overrides) -> tuple[torch.Tensor, torch.Tensor]:
    conditioning = pack.text_encode.IG4_TextEncode.execute(loaded.text_encoder, CAPTION).values[0]
    args = dict(seed=3, preset=TURBO, batch_size=1, **SIZE) | overrides
    latent = pack.sampler.IG4_Sampler.execute(loaded.model, conditioning, **args).values[0]
    image = pack.vae_decode.IG4_VAEDecode.execute(loaded.vae, latent).values[0]
    return latent["samples"], image


def test_schemas(pack):
    sampler = pack.sampler.IG4_Sampler.define_schema()
    assert sampler.node_id == "IG4_Sampler" and sampler.display_name == "Ideogram 4 · Sampler"
    inputs = {i.id: i for i in sampler.inputs}
    assert list(inputs) == [
        "model", "conditioning", "width", "height", "seed", "preset", "batch_size", "latent", "denoise",
        "step_cache", "progressive", "compile",
    ]  # fmt: skip
    for name in ("step_cache", "progressive", "compile"):
        assert inputs[name].advanced and not inputs[name].default
    assert inputs["compile"].optional and "first run of each image size" in inputs["compile"].tooltip  # old prompts run
    assert inputs["seed"].control_after_generate is True and inputs["latent"].optional
    options = {o.key: [i.id for i in o.inputs] for o in inputs["preset"].options}
    assert next(iter(options)) == "Default (20 steps)" and len(options) == 8
    assert options["Custom"] == ["steps", "guidance", "polish_steps", "polish_guidance", "mu", "std"]
    assert [o.kind for o in sampler.outputs] == ["LATENT"]
    for node, node_id, kinds in (
        (pack.text_encode.IG4_TextEncode, "IG4_TextEncode", ["IDEOGRAM4_TEXT_ENCODER", "STRING"]),
        (pack.vae_decode.IG4_VAEDecode, "IG4_VAEDecode", ["IDEOGRAM4_VAE", "LATENT", "COMBO"]),
        (pack.caption_overlay.IG4_CaptionOverlay, "IG4_CaptionOverlay", ["IMAGE", "STRING"]),
    ):
        schema = node.define_schema()
        assert schema.node_id == node_id and schema.category == "Ideogram 4"
        assert [i.kind for i in schema.inputs] == kinds


def test_size_validation(pack):
    validate = pack.sampler.IG4_Sampler.validate_inputs
    assert validate(width=1024, height=64, preset=TURBO) is True
    assert "multiple of 16" in validate(width=1000, height=1024, preset=TURBO)
    assert validate(width=None, height=1024, preset=TURBO) is True  # linked: checked when it runs
    assert validate(width=64, height=64, preset={"preset": "Custom", "steps": None}) is True  # ComfyUI reports it


def test_preset_validation_at_queue_time(pack):
    """ComfyUI nests a known label into a mapping and passes one that is no option as the bare string (the
    sampler accepts all inputs for this), so the validator sees and refuses it before anything runs."""
    validate = pack.sampler.IG4_Sampler.validate_inputs
    assert pack.sampler.IG4_Sampler.define_schema().accept_all_inputs is True
    assert validate(width=64, height=64, preset=TURBO) is True
    assert validate(width=64, height=64, preset="Fast") == (
        "Unknown preset 'Fast'; choose one of Default (20 steps), Quality (48 steps), Turbo (12 steps), "
        "Community (34 steps), Community (16 steps), Few-step LoRA (8 steps), Few-step LoRA (4 steps), Custom."
    )
    assert validate(width=64, height=64).startswith("The preset is missing; choose one of Default (20 steps)")


def test_chain_matches_the_headless_pipeline(pack, loaded, repo: Path, fake: FakeComfy):
    samples, image = _generate(pack, loaded)
    assert samples.shape == (1, 128, 3, 4) and image.shape == (1, 48, 64, 3)
    reference = Ideogram4Pipeline(ModelPaths.from_folder(repo), device=torch.device("cpu"), dtype=torch.float32)
    result = reference.generate(CAPTION, width=64, height=48, seed=3, settings=PRESETS["V4_TURBO_12"])
    expected = torch.tensor(np.array(result.images[0]), dtype=torch.float32)
    assert ((image[0] * 255).round() - expected).abs().max() <= 1
    torch.testing.assert_close(samples, pack.sampler.tokens_to_comfy(result.tokens, (3, 4)))
    # Progress for every step, status lines for the encoder and the sampler.
    steps = [p for p in fake.progress if p[1] == 12]
    assert [p[0] for p in steps] == list(range(1, 13))
    assert any("Turbo (12 steps): 12 steps" in text for _, text in fake.texts)


def test_sampler_passes_the_fast_modes_through(pack, loaded, monkeypatch):
    """step_cache, progressive and compile reach the engine as one FastModes (off by default: exact); the run
    itself goes on without compiling (inductor's build takes minutes on the CPU)."""
    seen = []
    sample_fast = pack.sampler.sample_fast

    def recording(*args):
        *rest, fast = args
        seen.append(fast)
        return sample_fast(*rest, dataclasses.replace(fast, compile=False))

    monkeypatch.setattr(pack.sampler, "sample_fast", recording)
    _generate(pack, loaded)
    _generate(pack, loaded, step_cache=0.3, progressive=0.25, compile=True)
    fast_modes = importlib.import_module("ig4pack.ideogram4_core.sampling.fast_modes")
    assert seen == [fast_modes.EXACT, fast_modes.FastModes(step_cache=0.3, progressive=0.25, compile=True)]


def test_text_encode_reports_tokens_and_reuses_encodings(pack, loaded, fake: FakeComfy):
    encode = pack.text_encode.IG4_TextEncode.execute
    first = encode(loaded.text_encoder, CAPTION)
    count = loaded.text_encoder.tokenizer.count_tokens(CAPTION)
    assert first.ui["text"][0].startswith(f"{count} tokens (limit 2048)")
    loads = len(fake.loaded)
    encode(loaded.text_encoder, "plain words")
    again = encode(loaded.text_encoder, CAPTION)
    assert "reused encoding" in again.ui["text"][0] and len(fake.loaded) == loads + 1
    assert again.values[0].features[0] is first.values[0].features[0]
    assert "plain-text caption" in encode(loaded.text_encoder, "plain words").ui["text"][0]
    for bad in ("", "   "):
        with pytest.raises(pack.errors.CaptionError, match="empty"):
            encode(loaded.text_encoder, bad)
    with pytest.raises(pack.errors.CaptionError, match="over the limit"):
        encode(loaded.text_encoder, "word " * 3000)


def test_sampler_custom_settings_batch_and_errors(pack, loaded):
    custom = {"preset": "Custom", "steps": 3, "guidance": 1.0, "polish_steps": 0, "polish_guidance": 1.0,
              "mu": 0.0, "std": 1.0}  # fmt: skip
    samples, image = _generate(pack, loaded, preset=custom, batch_size=2)
    assert samples.shape == (2, 128, 3, 4) and image.shape == (2, 48, 64, 3)
    assert not torch.equal(samples[0], samples[1])
    with pytest.raises(pack.errors.Ideogram4Error, match="polish steps"):
        _generate(pack, loaded, preset=custom | {"polish_steps": 5})
    with pytest.raises(pack.errors.Ideogram4Error, match="not a positive multiple of 16"):
        _generate(pack, loaded, width=72)
    samples_again, _ = _generate(pack, loaded, preset=custom, batch_size=2, **{"preset.steps": 9})
    assert torch.equal(samples_again, samples), "a key that is no input (accept_all_inputs) is ignored"


def test_image_to_image_start(pack, loaded, fake: FakeComfy):
    samples, _ = _generate(pack, loaded)
    conditioning = pack.text_encode.IG4_TextEncode.execute(loaded.text_encoder, CAPTION).values[0]
    run = dict(seed=4, preset=TURBO, batch_size=1, width=1024, height=1024)  # the latent's size wins
    out = pack.sampler.IG4_Sampler.execute(loaded.model, conditioning, **run, latent={"samples": samples}, denoise=0.5)
    assert out.values[0]["samples"].shape == samples.shape and "image-to-image" in out.ui["text"][0]
    with pytest.raises(pack.errors.Ideogram4Error, match="LATENT has shape"):
        pack.sampler.IG4_Sampler.execute(loaded.model, conditioning, **run, latent={"samples": torch.zeros(1, 4, 6, 8)})


def test_sampler_honours_cancel(pack, loaded, fake: FakeComfy):
    fake.interrupted = True
    with pytest.raises(BaseException) as caught:
        _generate(pack, loaded)
    assert type(caught.value).__name__ == "InterruptProcessingException"


def test_vae_decode_tiles_when_memory_is_short_or_out(pack, loaded, fake: FakeComfy):
    samples = torch.randn(1, 128, 36, 20)  # VAE latent 72×40: two default tiles
    decode = pack.vae_decode.IG4_VAEDecode.execute
    whole = decode(loaded.vae, {"samples": samples})
    assert whole.ui["text"][0].endswith("decoded whole")
    fake.free_memory = 0
    fake.progress.clear()
    tiled = decode(loaded.vae, {"samples": samples})
    assert "tiles per image" in tiled.ui["text"][0] and tiled.values[0].shape == whole.values[0].shape
    assert (tiled.values[0] - whole.values[0]).abs().mean() < 0.1
    assert [p[:2] for p in fake.progress] == [(1, 2), (2, 2), (2, 2)]  # each tile, then the image
    fake.free_memory = 1 << 40
    module = loaded.vae.patcher.model
    original = module.decode

    def decode_fits_only_tiles(z):
        if z.shape[-2] > 64:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return original(z)

    module.decode = decode_fits_only_tiles
    try:
        assert "tiles per image" in decode(loaded.vae, {"samples": samples}).ui["text"][0]
    finally:
        del module.decode
    with pytest.raises(pack.errors.Ideogram4Error, match="LATENT has shape"):
        decode(loaded.vae, {"samples": torch.zeros(1, 16, 4, 4)})


def test_caption_overlay_node(pack):
    overlay = pack.caption_overlay.IG4_CaptionOverlay.execute
    image = torch.zeros(2, 100, 200, 3)
    out = overlay(image, CAPTION)
    assert out.values[0].shape == image.shape and out.ui["text"] == ["1 boxed element drawn"]
    assert out.values[0][:, 50, 20].abs().sum() > 0  # left edge of the box at x = 100/1000·200
    assert torch.equal(overlay(image, "not json at all").values[0], image)
