"""Header-only identification: families, branches, formats, and refusals that name the file and where it goes."""

from __future__ import annotations

import json
import pickle
import struct
import time
from pathlib import Path

import pytest
import torch
from fixtures_checkpoints import FOREIGN, ideogram4, qwen3_text_encoder, tiny_ideogram4, vae, write_headers
from safetensors.torch import save_file

from ideogram4_core.demo import write_demo_model
from ideogram4_core.errors import ModelFileError
from ideogram4_core.weights import safetensors_io
from ideogram4_core.weights.identify import REPO, expect, identify

WHERE_TRANSFORMERS = "Ideogram 4 transformers go in models/diffusion_models (ideogram4_fp8_scaled.safetensors"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return write_demo_model(tmp_path_factory.mktemp("repo"))


def refusal(path: Path, role: str) -> str:
    with pytest.raises(ModelFileError) as refused:
        expect(path, role)
    return str(refused.value)


def _no_tensor_reads(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("tensor data was read")

    monkeypatch.setattr(safetensors_io, "safe_open", refuse)
    monkeypatch.setattr(torch, "load", refuse)


def test_full_size_file_is_identified_from_its_header_alone(tmp_path, monkeypatch):
    path = write_headers(tmp_path / "ideogram4_bf16.safetensors", ideogram4())
    assert path.stat().st_size > 18e9 and path.stat().st_blocks * 512 < 50e6  # sparse: reading it would take long
    _no_tensor_reads(monkeypatch)
    started = time.perf_counter()
    identity = expect(path, "transformer")
    assert time.perf_counter() - started < 2
    assert (identity.family, identity.format, identity.branch, identity.usable) == (
        "ideogram4-transformer", "bf16", None, True,
    )  # fmt: skip
    assert "34 blocks, hidden 4608 (the released size)" in identity.notes
    assert identity.use_as == "--transformer / IG4_ModelLoader model"


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_other_families_are_named_and_refused(tmp_path, name):
    spec, description = FOREIGN[name]
    path = write_headers(tmp_path / name, spec)
    identity = identify(path)
    assert identity.description.startswith(description) and not identity.usable
    message = refusal(path, "transformer")
    assert message.startswith(f"{name} is not an Ideogram 4 transformer: it is {description}")
    assert WHERE_TRANSFORMERS in message


def test_components_in_the_wrong_role_say_where_they_go(tmp_path, demo):
    text_encoder = write_headers(tmp_path / "qwen3vl_8b_bf16.safetensors", qwen3_text_encoder())
    assert refusal(text_encoder, "transformer").startswith(
        "qwen3vl_8b_bf16.safetensors is not an Ideogram 4 transformer: it is the Ideogram 4 text encoder (Qwen3-VL "
        "language tower); use it as --text-encoder / IG4_TextEncoderLoader. " + WHERE_TRANSFORMERS
    )
    assert refusal(demo / "vae", "text_encoder") == (
        f"{demo / 'vae'} is not a Qwen3-VL text encoder: it is the FLUX.2 VAE; use it as --vae / IG4_VAELoader. The "
        "Ideogram 4 text encoder (Qwen3-VL-8B) goes in models/text_encoders (qwen3vl_8b_fp8_scaled.safetensors) or "
        "is the text_encoder/ folder of the official repo."
    )
    assert refusal(demo / "transformer", "vae").startswith(
        f"{demo / 'transformer'} is not a FLUX.2 VAE: it is the Ideogram 4 transformer (conditional branch); use it "
        "as --transformer / IG4_ModelLoader model. The FLUX.2 VAE goes in models/vae"
    )
    assert refusal(demo, "transformer") == (
        f"{demo} is the whole Ideogram 4 repo folder, not an Ideogram 4 transformer: pass it as --model "
        "(IG4_ModelLoader model), or pass its transformer/ folder."
    )
    assert expect(demo, "text_encoder").path == demo / "text_encoder"  # like the loader, the repo's text_encoder/


def test_branches(tmp_path, demo):
    assert identify(demo / "unconditional_transformer").branch == "uncond"
    assert identify(demo / "transformer").description == "the Ideogram 4 transformer (conditional branch)"
    tagged = write_headers(tmp_path / "a.safetensors", tiny_ideogram4(), {"model_type": "ideogram4_uncond"})
    named = write_headers(tmp_path / "ideogram4_unconditional_fp8_scaled.safetensors", tiny_ideogram4())
    for path in (tagged, named):
        identity = expect(path, "unconditional_transformer")
        assert identity.use_as == "--unconditional-transformer / IG4_ModelLoader unconditional model"
        assert refusal(path, "conditional_transformer") == (
            f"{path.name} is not the conditional Ideogram 4 transformer: it is the unconditional Ideogram 4 "
            "transformer; use it as --unconditional-transformer / IG4_ModelLoader unconditional model."
        )
    expect(demo / "transformer", "transformer")
    assert "is not the unconditional Ideogram 4 transformer" in refusal(
        demo / "transformer", "unconditional_transformer"
    )
    unknown = identify(write_headers(tmp_path / "mine.safetensors", tiny_ideogram4(prefix="model.diffusion_model.")))
    assert unknown.branch is None and any("taken as conditional" in note for note in unknown.notes)


def test_unreadable_files_are_refused_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"

    class Trap:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (tmp_path / "model.ckpt").write_bytes(pickle.dumps({"state_dict": Trap()}, protocol=4))
    (tmp_path / "renamed.safetensors").write_bytes(pickle.dumps(Trap(), protocol=4))
    torch.save({"w": torch.zeros(2)}, tmp_path / "weights.pt")
    (tmp_path / "ideogram4-Q4_K.gguf").write_bytes(
        b"GGUF" + struct.pack("<IQQ", 3, 5, 0)
    )  # 5 tensors announced, none there
    save_file({"w": torch.zeros(64)}, tmp_path / "full.safetensors")
    data = (tmp_path / "full.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-100])
    (tmp_path / "corrupt.safetensors").write_bytes(struct.pack("<Q", 12) + b"{not json!!}")
    cases = {
        "model.ckpt": "model.ckpt is a pickle checkpoint.*never loaded",
        "renamed.safetensors": "renamed.safetensors is a pickle checkpoint",
        "weights.pt": "weights.pt is a pickle checkpoint",
        "ideogram4-Q4_K.gguf": "ideogram4-Q4_K.gguf is a truncated or corrupt GGUF file",
        "cut.safetensors": "cut.safetensors is truncated: 100 bytes of tensor data are missing",
        "corrupt.safetensors": "corrupt.safetensors has a corrupt safetensors header",
    }
    for name, message in cases.items():
        for check in (identify, lambda p: expect(p, "vae")):
            with pytest.raises(ModelFileError, match=message):
                check(tmp_path / name)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("quantise", "expected"),
    [
        ({"{}.weight": ("I8", (8, 8)), "{}.SCB": ("F32", (8,))}, "bitsandbytes int8"),
        ({"{}.qweight": ("I32", (1, 8)), "{}.scales": ("F16", (1, 8))}, "GPTQ/AWQ int4"),
        ({"{}.weight": ("F8_E5M2", (8, 8))}, "F8_E5M2 weights without scales"),
        ({"{}.weight": ("F8_E4M3", (8, 8)), "{}.weight_scale": ("F32", ())}, "scaled quantisation"),
    ],
)
def test_unknown_quantisation_is_refused(tmp_path, quantise, expected):
    spec = tiny_ideogram4()
    del spec["layers.0.attention.o.weight"]
    spec |= {key.format("layers.0.attention.o"): value for key, value in quantise.items()}
    path = write_headers(tmp_path / "odd.safetensors", spec)
    identity = identify(path)
    assert (identity.family, identity.format, identity.usable) == ("ideogram4-transformer", expected, False)
    assert refusal(path, "transformer") == (
        f"odd.safetensors is the Ideogram 4 transformer quantised as {expected}, which this version cannot load "
        f"(unknown quantisation). {WHERE_TRANSFORMERS}, ideogram4_unconditional_fp8_scaled.safetensors) or are the "
        "transformer/ and unconditional_transformer/ folders of the official repo."
    )


def _quantised(fmt: str) -> dict:
    layer = "layers.0.feed_forward.w1"
    out, inp = 64, 256
    layouts = {
        "official-fp8": {".weight": ("F8_E4M3", (out, inp)), ".weight_scale": ("F32", (out,))},
        "official-nf4": {
            ".weight": ("U8", (out * inp // 2, 1)), ".weight.absmax": ("F32", (out * inp // 64,)),
            ".weight.quant_map": ("F32", (16,)), ".weight.quant_state.bitsandbytes__nf4": ("U8", (120,)),
        },
        "comfy-fp8-scaled": {
            ".weight": ("F8_E4M3", (out, inp)), ".weight_scale": ("F32", ()), ".comfy_quant": ("U8", (29,)),
        },
        "comfy-nvfp4-mixed": {
            ".weight": ("U8", (out, inp // 2)), ".weight_scale": ("F8_E4M3", (out, inp // 16)),
            ".weight_scale_2": ("F32", ()), ".comfy_quant": ("U8", (19,)),
        },
    }  # fmt: skip
    return {layer + suffix: value for suffix, value in layouts[fmt].items()}


@pytest.mark.parametrize("fmt", ["official-fp8", "official-nf4", "comfy-fp8-scaled", "comfy-nvfp4-mixed"])
def test_released_formats_are_named(tmp_path, fmt):
    spec = tiny_ideogram4()
    del spec["layers.0.feed_forward.w1.weight"]
    identity = identify(write_headers(tmp_path / "q.safetensors", spec | _quantised(fmt)))
    assert identity.format == fmt
    if not identity.usable:  # recognised before a loader for it is registered
        assert f"quantised as {fmt}, which this version cannot load yet" in identity.problem


def test_text_encoder_checks(tmp_path):
    assert identify(write_headers(tmp_path / "te.safetensors", qwen3_text_encoder())).usable
    short = write_headers(tmp_path / "short.safetensors", qwen3_text_encoder(layers=35))
    assert refusal(short, "text_encoder").startswith(
        "short.safetensors is the Ideogram 4 text encoder (Qwen3-VL language tower) but has 35 decoder layers; "
        "Ideogram 4 taps layer 35, so at least 36 are needed. The Ideogram 4 text encoder (Qwen3-VL-8B) goes in"
    )
    original = identify(write_headers(tmp_path / "hf.safetensors", qwen3_text_encoder(prefix="model.language_model.")))
    assert original.usable and original.family == "qwen3-vl-text-encoder"


def test_vaes(tmp_path):
    decoder_only = identify(write_headers(tmp_path / "dec.safetensors", vae(encoder=False)))
    assert decoder_only.usable and "decoder only: decodes, cannot encode images" in decoder_only.notes
    diffusers = {k.replace("decoder.up.0.block.", "decoder.up_blocks.3.resnets."): v for k, v in vae().items()}
    assert identify(write_headers(tmp_path / "diffusers.safetensors", diffusers)).family == "flux2-vae"
    assert refusal(write_headers(tmp_path / "sdxl_vae.safetensors", vae(latent=4)), "vae") == (
        "sdxl_vae.safetensors is not a FLUX.2 VAE: it is a Stable Diffusion/SDXL-style VAE with 4 latent channels, "
        "not the FLUX.2 VAE (32). The FLUX.2 VAE goes in models/vae (flux2-vae.safetensors) or is the vae/ folder of "
        "the official repo."
    )


def test_unrecognised_files(tmp_path):
    path = write_headers(tmp_path / "mystery.safetensors", {"foo.bar.weight": ("F32", (2, 2))})
    identity = identify(path)
    assert identity.family == "unknown" and not identity.usable
    assert refusal(path, "vae").startswith(
        "mystery.safetensors is not a FLUX.2 VAE: it is an unrecognised model (tensors named like 'foo.bar.weight')."
    )
    with pytest.raises(ModelFileError, match="does not exist"):
        identify(tmp_path / "missing.safetensors")
    assert identify(write_demo_model(tmp_path / "repo")).family == REPO


@pytest.mark.parametrize("length", [0x1480, 0x4B50])  # low bytes 0x80 (pickle protocol mark) and "PK" (zip)
def test_header_lengths_that_look_like_pickle_magic(tmp_path, length):
    spec = {"w": ("F32", (2,))}
    base = len(json.dumps({"__metadata__": {"pad": ""}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}))
    path = write_headers(tmp_path / "m.safetensors", spec, {"pad": "x" * (length - base)})
    assert path.read_bytes()[:8] == struct.pack("<Q", length)
    assert identify(path).family == "unknown"
