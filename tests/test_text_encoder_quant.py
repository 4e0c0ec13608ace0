"""Quantised text encoders: the official text_encoder/ folder in fp8 (per-row, `ideogram_fp8_weight_only`) and
nf4 (bitsandbytes `quantization_config`), and ComfyUI's fp8_scaled single file (`model.*` with `comfy_quant`
tensors or `_quantization_metadata`). Features are compared with the oracle (diffusers' encode_prompt) holding
the exactly dequantised weights, at the tolerance of test_text_encoder.
"""

from __future__ import annotations

import pytest
import torch
from fixtures_quant import (
    nf4,
    nf4_config,
    official_fp8,
    write_comfy_text_encoder,
    write_quantised_text_encoder,
)
from fixtures_text import tiny_qwen3_vl, write_tokenizer
from test_text_encoder import JSON_CAPTION, NON_ASCII, _assert_close, _Oracle
from torch import nn

from ideogram4_core.models.text_encoder import TAP_LAYERS, TextEncoder
from ideogram4_core.weights.quant.fp8 import Fp8Linear
from ideogram4_core.weights.quant.nf4 import Nf4Linear

WRITERS = {
    "official-fp8": lambda folder, model: write_quantised_text_encoder(
        folder / "text_encoder", model, official_fp8, {"ideogram_fp8_weight_only": True}
    ),
    "official-nf4": lambda folder, model: write_quantised_text_encoder(
        folder / "text_encoder", model, nf4, nf4_config()
    ),
    "comfy-fp8-scaled": lambda folder, model: write_comfy_text_encoder(folder / "qwen3vl_tiny_fp8.safetensors", model),
    "comfy-metadata": lambda folder, model: write_comfy_text_encoder(
        folder / "qwen3vl_tiny_fp8.safetensors", model, markers="metadata"
    ),
}
LAYER_TYPES = {"official-nf4": Nf4Linear}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return write_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.mark.parametrize("fmt", WRITERS)
def test_features_match_oracle(tmp_path, tokenizer, fmt):
    model = tiny_qwen3_vl(seed=4)
    path = WRITERS[fmt](tmp_path, model)
    ours = TextEncoder.load(path, tokenizer, device="cpu", dtype=torch.float32)
    captions = [JSON_CAPTION, NON_ASCII]
    _assert_close(ours.encode(captions), _Oracle(model, tokenizer).features(captions))

    linears = [m for m in ours.model.modules() if isinstance(m, LAYER_TYPES.get(fmt, Fp8Linear))]
    assert len(linears) == 7 * (max(TAP_LAYERS) + 1)  # q, k, v, o, gate, up, down of the built layers only
    assert not any(isinstance(m, nn.Linear) for m in ours.model.modules())
    for layer in linears:
        per_param = layer.weight.nbytes / (layer.out_features * layer.in_features)
        assert per_param == (0.5 if fmt == "official-nf4" else 1)
    assert ours.model.embed_tokens.weight.dtype == torch.float32


def test_fp8_matmul_flag_reaches_the_layers(tmp_path):
    from ideogram4_core.models.text_encoder import load_text_encoder

    path = WRITERS["comfy-fp8-scaled"](tmp_path, tiny_qwen3_vl(seed=1))
    model = load_text_encoder(path, device="cpu", dtype=torch.float32, fp8_matmul=True)
    assert all(m.fp8_matmul for m in model.modules() if isinstance(m, Fp8Linear))
