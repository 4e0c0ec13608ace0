"""ComfyUI int8 (`int8_tensorwise`), quantised by comfy-kitchen (ComfyUI's own quantiser): per-tensor scale,
per-row scales and ConvRot; exact decoding against comfy-kitchen's dequantisation, int8 storage, transformer and
text encoder against the reference holding the dequantised weights, and a render with an int8 + GGUF pair.
"""

from __future__ import annotations

import pytest
import torch
from diffusers import Ideogram4Transformer2DModel
from fixtures_gguf import prefer, write_gguf_transformer
from fixtures_model import randomized, write_official_model
from fixtures_quant import (
    BLOCK_LINEARS,
    SINGLE_FILE_DIT,
    single_file_dits,
    write_comfy_text_encoder,
    write_comfy_transformer,
)
from fixtures_text import tiny_qwen3_vl, write_tokenizer
from numerics import assert_relative_close
from test_pipeline import CAPTION, check_against_oracle
from test_text_encoder import JSON_CAPTION, _assert_close, _Oracle
from test_weights_gguf import SETTINGS, _velocities

from ideogram4_core.errors import ModelFileError
from ideogram4_core.models.text_encoder import TextEncoder
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.weights.identify import expect
from ideogram4_core.weights.quant.int8 import Int8Linear
from ideogram4_core.weights.transformer_weights import load_transformer

tensor_api = pytest.importorskip("comfy_kitchen.tensor")
VARIANTS = ("int8_tensorwise", "int8_rowwise", "int8_convrot")


@pytest.mark.parametrize(
    ("options", "group"), [({}, None), ({"per_channel": True}, None), ({"per_channel": True, "convrot": True,
                                                                          "convrot_groupsize": 64}, 64)]
)  # fmt: skip
def test_decoding_matches_comfy_kitchen(options, group):
    weight = torch.randn(48, 256, generator=torch.Generator().manual_seed(2))
    quantised = tensor_api.QuantizedTensor.from_float(weight, "TensorWiseINT8Layout", **options)
    stored = quantised.state_dict("w")
    layer = Int8Linear(stored["w"], stored["w_scale"], None, group)
    assert layer.weight.dtype == torch.int8 and layer.weight.nbytes == 48 * 256
    expected = quantised.dequantize().float()
    if group is None:
        assert torch.equal(layer.dequantized_weight(torch.float32), expected)
    else:  # the same float32 matmul with the Hadamard matrix; summation order may differ by a rounding
        torch.testing.assert_close(layer.dequantized_weight(torch.float32), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_transformer_matches_reference(tmp_path, variant):
    reference = randomized(Ideogram4Transformer2DModel(**SINGLE_FILE_DIT), seed=3)
    file = write_comfy_transformer(tmp_path / f"ideogram4_{variant}.safetensors", reference, block_format=variant,
                                   prefix="model.diffusion_model.")  # fmt: skip
    assert expect(file, "transformer").format == "comfy-int8"
    ours = load_transformer(file, device="cpu", dtype=torch.float32)
    got, expected = _velocities(reference, ours)
    assert_relative_close(got, expected, tol=1e-5)
    blocks = [m for name, m in ours.named_modules() if name.endswith(BLOCK_LINEARS)]
    assert blocks and all(isinstance(m, Int8Linear) and m.weight.dtype == torch.int8 for m in blocks)
    assert all(m.weight_scale.numel() == (1 if variant == "int8_tensorwise" else m.out_features) for m in blocks)


def test_text_encoder_matches_reference(tmp_path):
    tokenizer = write_tokenizer(tmp_path / "tokenizer")
    model = tiny_qwen3_vl(seed=7)
    path = write_comfy_text_encoder(tmp_path / "qwen3vl_8b_int8.safetensors", model, fmt="int8_rowwise")
    ours = TextEncoder.load(path, tokenizer, device="cpu", dtype=torch.float32)
    _assert_close(ours.encode([JSON_CAPTION]), _Oracle(model, tokenizer).features([JSON_CAPTION]))
    assert any(isinstance(m, Int8Linear) for m in ours.model.modules())


def test_int8_conditional_with_gguf_unconditional(tmp_path):
    oracle = write_official_model(tmp_path, seed=8)
    single_file_dits(oracle, seed=60)
    cond = write_comfy_transformer(tmp_path / "ideogram4_int8.safetensors", oracle.transformer,
                                   block_format="int8_convrot")  # fmt: skip
    uncond = write_gguf_transformer(tmp_path / "ideogram4_unconditional-Q6_K.gguf", oracle.unconditional_transformer,
                                    prefer("Q6_K"))  # fmt: skip
    paths = ModelPaths(cond, uncond, tmp_path / "text_encoder", tmp_path / "vae", tokenizer=tmp_path / "tokenizer")
    check_against_oracle((oracle, Ideogram4Pipeline(paths, device=torch.device("cpu"), dtype=torch.float32)),
                         CAPTION, 48, 32, seed=6, settings=SETTINGS)  # fmt: skip


def test_convrot_groups_that_do_not_fit_are_refused(tmp_path):
    reference = randomized(Ideogram4Transformer2DModel(**SINGLE_FILE_DIT), seed=1)
    file = write_comfy_transformer(tmp_path / "ideogram4_int8.safetensors", reference, block_format="int8_convrot")
    from safetensors.torch import load_file, save_file

    tensors = load_file(file)
    marker = tensors["layers.0.attention.qkv.comfy_quant"]
    tensors["layers.0.attention.qkv.comfy_quant"] = torch.tensor(
        list(bytes(marker.numpy()).replace(b'"convrot_groupsize": 16', b'"convrot_groupsize": 1024')), dtype=torch.uint8
    )
    save_file(tensors, tmp_path / "bad.safetensors")
    with pytest.raises(ModelFileError, match=r"int8 layer 'layers\.0\.attention\.qkv': 256 input features are not"):
        load_transformer(tmp_path / "bad.safetensors", device="cpu", dtype=torch.float32)
