"""ComfyUI single files, quantised by comfy-kitchen (ComfyUI's own quantiser): fp8_scaled with `comfy_quant`
tensors, with `_quantization_metadata` and in the legacy `scaled_fp8` form, and nvfp4_mixed; mixed with the
official fp8 folders and ComfyUI's text encoder; exact nvfp4 decoding, packed storage and refusals.

The oracle holds the weights as comfy-kitchen dequantises them; latents agree to relative error 1e-4 (fp32, CPU).
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from diffusers import Ideogram4Transformer2DModel
from fixtures_model import TINY_DIT, randomized, write_official_model
from fixtures_quant import (
    BLOCK_LINEARS,
    SINGLE_FILE_DIT,
    single_file_dits,
    transformer_groups,
    write_comfy_text_encoder,
    write_comfy_transformer,
    write_official_fp8_transformer,
)
from numerics import assert_relative_close
from safetensors.torch import load_file, save_file
from test_pipeline import CAPTION, check_against_oracle
from test_transformer import reference_velocity
from torch import nn

from ideogram4_core.errors import ModelFileError
from ideogram4_core.models.text_encoder import load_text_encoder
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import SamplingSettings
from ideogram4_core.weights.quant.fp8 import Fp8Linear
from ideogram4_core.weights.quant.nvfp4 import Nvfp4Linear, unswizzle_block_scales
from ideogram4_core.weights.transformer_weights import load_transformer

SETTINGS = SamplingSettings(steps=3, guidance=4.0, polish_steps=1, polish_guidance=2.0, mu=0.0, std=1.0)
CPU = torch.device("cpu")
PREFIX = "model.diffusion_model."


def _pipeline(oracle, cond, uncond, text_encoder, folder):
    paths = ModelPaths(cond, uncond, text_encoder, folder / "vae", tokenizer=folder / "tokenizer")
    return oracle, Ideogram4Pipeline(paths, device=CPU, dtype=torch.float32)


@pytest.fixture(scope="module")
def fp8_scaled(tmp_path_factory):
    """fp8_scaled cond (comfy_quant tensors, checkpoint prefix, model_type metadata), legacy scaled_fp8 uncond,
    ComfyUI's text encoder."""
    folder = tmp_path_factory.mktemp("ideogram4_comfy_fp8")
    oracle = write_official_model(folder)
    single_file_dits(oracle, seed=20)
    cond = write_comfy_transformer(
        folder / "ideogram4_fp8_scaled.safetensors",
        oracle.transformer,
        prefix=PREFIX,
        metadata={"model_type": "ideogram4_cond"},
    )
    uncond = write_comfy_transformer(
        folder / "ideogram4_unconditional_fp8_scaled.safetensors", oracle.unconditional_transformer, markers="legacy"
    )
    text_encoder = write_comfy_text_encoder(folder / "qwen3vl_tiny_fp8_scaled.safetensors", oracle.text_encoder)
    return _pipeline(oracle, cond, uncond, text_encoder, folder)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """Official fp8 transformer/ folder as the conditional branch, nvfp4_mixed (`_quantization_metadata`) as the
    unconditional one, ComfyUI's text encoder."""
    folder = tmp_path_factory.mktemp("ideogram4_comfy_mixed")
    oracle = write_official_model(folder, seed=5)
    single_file_dits(oracle, seed=30)
    shutil.rmtree(folder / "transformer")
    cond = write_official_fp8_transformer(folder / "transformer", oracle.transformer, fused=True)
    uncond = write_comfy_transformer(
        folder / "ideogram4_unconditional_nvfp4_mixed.safetensors",
        oracle.unconditional_transformer,
        nvfp4=True,
        markers="metadata",
    )
    text_encoder = write_comfy_text_encoder(folder / "qwen3vl_tiny_fp8_scaled.safetensors", oracle.text_encoder)
    return _pipeline(oracle, cond, uncond, text_encoder, folder)


def test_fp8_scaled_and_legacy_match_oracle(fp8_scaled):
    check_against_oracle(fp8_scaled, CAPTION, 48, 32, seed=2, settings=SETTINGS)


def test_official_fp8_with_nvfp4_uncond_matches_oracle(mixed):
    check_against_oracle(mixed, CAPTION, 32, 48, seed=3, settings=SETTINGS)


@pytest.mark.parametrize("markers", ["tensor", "metadata"])
@pytest.mark.parametrize("nvfp4", [False, True])
def test_marker_variants_match_reference(tmp_path, markers, nvfp4):
    reference = randomized(Ideogram4Transformer2DModel(**SINGLE_FILE_DIT), seed=9)
    file = write_comfy_transformer(tmp_path / "ig4.safetensors", reference, nvfp4=nvfp4, markers=markers, prefix=PREFIX)
    ours = load_transformer(file, device="cpu", dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    x, text = torch.randn(1, 6, 128, generator=gen), torch.randn(1, 4, TINY_DIT["llm_features_dim"], generator=gen)
    t = torch.tensor([0.4])
    with torch.no_grad():
        expected = reference_velocity(reference, x, t, text, (2, 3))
        got = ours(x, t, ours.rotary(4, (2, 3), x.device), text)
    assert_relative_close(got, expected, tol=1e-5)


def test_nvfp4_mixed_storage(mixed):
    model = load_transformer(mixed[1].paths.unconditional_transformer, device="cpu", dtype=torch.float32)
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    for name, layer in model.named_modules():
        if name.endswith(BLOCK_LINEARS):
            assert isinstance(layer, Nvfp4Linear)
            assert (
                layer.weight.dtype == torch.uint8 and layer.weight.nbytes == layer.out_features * layer.in_features / 2
            )
            assert layer.weight_scale.dtype == torch.float8_e4m3fn
            assert layer.weight_scale.numel() == layer.out_features * layer.in_features / 16
        elif isinstance(layer, Fp8Linear):
            assert layer.weight.element_size() == 1 and layer.weight_scale.numel() == 1


@pytest.mark.parametrize("shape", [(96, 128), (128, 96), (384, 48), (16, 16)])
def test_nvfp4_decoding_is_exact(shape):
    tensor_api = pytest.importorskip("comfy_kitchen.tensor")
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(1)) * 3
    quantised = tensor_api.QuantizedTensor.from_float(weight, "TensorCoreNVFP4Layout")
    stored = quantised.state_dict("w")
    layer = Nvfp4Linear(stored["w"], stored["w_scale"], stored["w_scale_2"], None)
    nibbles = torch.stack((stored["w"] >> 4, stored["w"] & 15), dim=-1).reshape(shape)  # high nibble first
    magnitudes = torch.tensor([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=torch.float64)[(nibbles & 7).long()]
    values = magnitudes * (1 - 2 * (nibbles >> 3).double())  # E2M1: sign bit, 2 exponent bits, 1 mantissa bit
    scales = unswizzle_block_scales(stored["w_scale"], shape[0], shape[1] // 16).double().repeat_interleave(16, 1)
    exact = (values * scales * stored["w_scale_2"].double()).float()  # the stored product, rounded once
    assert torch.equal(layer.dequantized_weight(torch.float32), exact)
    assert torch.equal(layer.dequantized_weight(torch.bfloat16), exact.bfloat16())
    torch.testing.assert_close(exact, quantised.dequantize(), rtol=3e-7, atol=0)  # comfy-kitchen rounds twice


def test_tiled_scale_layout_round_trip():
    blocked_from = pytest.importorskip("comfy_kitchen.float_utils").to_blocked
    for rows, cols in ((1, 1), (96, 6), (130, 9), (384, 8)):
        scales = torch.randn(rows, cols)
        assert torch.equal(unswizzle_block_scales(blocked_from(scales, flatten=False), rows, cols), scales)


def _comfy_layer(fmt: str, weight: torch.Tensor, scale: torch.Tensor) -> dict[str, torch.Tensor]:
    """A plain DiT in original names whose first qkv is marked as a ComfyUI layer of format `fmt`."""
    groups, _ = transformer_groups(Ideogram4Transformer2DModel(**TINY_DIT), fused=True)
    tensors = {name: torch.cat(parts) for name, parts in groups.items()}
    marker = torch.tensor(list(json.dumps({"format": fmt}).encode()), dtype=torch.uint8)
    layer = "layers.0.attention.qkv"
    return tensors | {f"{layer}.weight": weight, f"{layer}.weight_scale": scale, f"{layer}.comfy_quant": marker}


def test_unknown_comfy_format_is_named(tmp_path):
    tensors = _comfy_layer("convrot_w4a4", torch.zeros(384, 128, dtype=torch.int8), torch.tensor(0.1))
    save_file(tensors, tmp_path / "ig4_w4a4.safetensors")
    with pytest.raises(ModelFileError, match="'convrot_w4a4', which is not supported"):
        load_transformer(tmp_path / "ig4_w4a4.safetensors", device="cpu", dtype=torch.float32)


def test_inconsistent_layers_are_refused(tmp_path):
    bad_scale = _comfy_layer("float8_e4m3fn", torch.zeros(384, 128).to(torch.float8_e4m3fn), torch.ones(7))
    save_file(bad_scale, tmp_path / "scale.safetensors")
    with pytest.raises(ModelFileError, match="fits neither one scale per tensor nor one per output row"):
        load_transformer(tmp_path / "scale.safetensors", device="cpu", dtype=torch.float32)
    wrong_shape = _comfy_layer("float8_e4m3fn", torch.zeros(192, 128).to(torch.float8_e4m3fn), torch.tensor(1.0))
    save_file(wrong_shape, tmp_path / "shape.safetensors")
    with pytest.raises(ModelFileError, match=r"'layers.0.attention.qkv' is 192×128, expected 384×128"):
        load_transformer(tmp_path / "shape.safetensors", device="cpu", dtype=torch.float32)


def test_comfy_text_encoder_refuses_unknown_format(fp8_scaled, tmp_path):
    tensors = load_file(fp8_scaled[1].paths.text_encoder)
    marker = "model.layers.3.mlp.up_proj.comfy_quant"
    tensors[marker] = torch.tensor(list(json.dumps({"format": "mxfp8"}).encode()), dtype=torch.uint8)
    save_file(tensors, tmp_path / "qwen_mxfp8.safetensors")
    with pytest.raises(ModelFileError, match=r"'layers\.3\.mlp\.up_proj' uses the ComfyUI quantisation format 'mxfp8'"):
        load_text_encoder(tmp_path / "qwen_mxfp8.safetensors", device="cpu", dtype=torch.float32)
