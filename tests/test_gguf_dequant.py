"""Our torch GGUF dequantisers against `gguf.quants.dequantize` (the llama.cpp project's reference): bit-identical
for every supported type, on blocks made by `gguf.quants.quantize` where it implements the type and on random
valid blocks otherwise; the packed layers; and the GGUF file refusals (unsupported and unknown types, truncation).
"""

from __future__ import annotations

import gguf
import numpy as np
import pytest
import torch
from fixtures_gguf import QUANT_TYPES, T, encode, random_blocks, write_gguf

from ideogram4_core.errors import ModelFileError
from ideogram4_core.weights.gguf_io import read_gguf_header
from ideogram4_core.weights.identify import expect
from ideogram4_core.weights.quant.gguf import BLOCKS, GgufEmbedding, GgufLinear, dequantize

QUANTIZABLE = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0")


def _bits(values: torch.Tensor) -> torch.Tensor:
    return values.contiguous().view(torch.int32)


def _reference(blocks: np.ndarray, qtype: str) -> torch.Tensor:
    return torch.from_numpy(gguf.quants.dequantize(blocks, T[qtype]).copy())


@pytest.mark.parametrize("qtype", QUANT_TYPES)
def test_random_valid_blocks_decode_bit_identically(qtype):
    block = BLOCKS[qtype][0]
    blocks = random_blocks(7, 3 * block, qtype, seed=5)
    ours = dequantize(torch.from_numpy(blocks), qtype)
    assert torch.equal(_bits(ours), _bits(_reference(blocks, qtype)))


@pytest.mark.parametrize("qtype", QUANTIZABLE)
def test_blocks_from_the_reference_quantiser_decode_bit_identically(qtype):
    weights = torch.randn(9, 256, generator=torch.Generator().manual_seed(3)) * 0.7
    weights[0, :32] = 0  # an all-zero block (scale 0)
    blocks, exact = encode(weights, qtype)
    assert blocks.dtype == np.uint8
    assert torch.equal(_bits(dequantize(torch.from_numpy(blocks), qtype)), _bits(exact))


@pytest.mark.parametrize("qtype", ["F32", "F16", "BF16"])
def test_float_types_decode_bit_identically(qtype):
    values = np.random.default_rng(1).standard_normal((4, 64)).astype(np.float32)
    stored = gguf.quants.quantize(values, T[qtype])
    raw = torch.from_numpy(np.ascontiguousarray(stored).view(np.uint8).reshape(4, -1))
    assert torch.equal(_bits(dequantize(raw, qtype)), _bits(_reference(stored.view(np.uint8), qtype)))


def test_leading_dimensions_and_output_dtype():
    blocks = random_blocks(6, 512, "Q6_K", seed=2)
    stacked = torch.from_numpy(blocks).reshape(2, 3, -1)
    values = dequantize(stacked, "Q6_K")
    assert values.shape == (2, 3, 512) and values.dtype == torch.float32
    assert torch.equal(values.reshape(6, 512), _reference(blocks, "Q6_K"))


def test_packed_layers_expand_exactly():
    blocks = torch.from_numpy(random_blocks(16, 256, "Q4_K", seed=4))
    exact = _reference(blocks.numpy(), "Q4_K")
    bias = torch.randn(16)
    linear = GgufLinear(blocks, "Q4_K", 256, bias)
    x = torch.randn(3, 256)
    assert (linear.out_features, linear.in_features) == (16, 256) and linear.weight.dtype == torch.uint8
    torch.testing.assert_close(linear(x), torch.nn.functional.linear(x, exact, bias), rtol=0, atol=0)
    assert torch.equal(linear.dequantized_weight(torch.bfloat16), exact.bfloat16())
    table = GgufEmbedding(blocks, "Q4_K", 256, torch.float32)
    ids = torch.tensor([3, 0, 15, 3])
    assert torch.equal(table(ids), exact[ids])
    assert "qtype=Q4_K" in repr(linear) and "qtype=Q4_K" in repr(table)


def _ideogram_like(path, qtype: str = "Q8_0", rows: int = 8) -> dict:
    """Tensors with the Ideogram 4 detection key, one weight in `qtype`."""
    block, size = gguf.GGML_QUANT_SIZES[T[qtype]]
    raw = np.random.default_rng(0).integers(0, 256, (rows, 256 // block * size), dtype=np.uint8)
    return {
        "embed_image_indicator.weight": (np.zeros((2, 256), np.float32), "F32"),
        "input_proj.weight": (np.zeros((256, 128), np.float32), "F32"),
        "layers.0.attention.qkv.weight": (raw, qtype),
    }


@pytest.mark.parametrize("qtype", ["IQ2_XXS", "TQ2_0"])
def test_unsupported_types_are_refused_by_name(tmp_path, qtype):
    path = write_gguf(tmp_path / "ideogram4-odd.gguf", _ideogram_like(tmp_path, qtype))
    message = (
        rf"ideogram4-odd\.gguf is the Ideogram 4 transformer stored with GGML type {qtype}, which this version "
        r"cannot dequantise; use a GGUF of it quantised as one of F32, .*Q4_K"
    )
    with pytest.raises(ModelFileError, match=message):
        expect(path, "transformer")


def test_unknown_type_id_is_refused(tmp_path):
    path = write_gguf(tmp_path / "ideogram4-new.gguf", _ideogram_like(tmp_path))
    data = bytearray(path.read_bytes())
    name = b"layers.0.attention.qkv.weight"
    type_at = data.index(name) + len(name) + 4 + 2 * 8  # after n_dims (u32) and two dims (u64)
    assert int.from_bytes(data[type_at : type_at + 4], "little") == T.Q8_0
    data[type_at : type_at + 4] = (250).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(
        ModelFileError, match=r"ideogram4-new\.gguf stores a tensor of GGML type id 250, which is unknown.*Use a GGUF"
    ):
        read_gguf_header(path)


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_files_are_refused(tmp_path, cut):
    path = write_gguf(tmp_path / "ideogram4-Q8_0.gguf", _ideogram_like(tmp_path))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ModelFileError, match=r"ideogram4-Q8_0\.gguf is (a )?truncated.*download it again"):
        expect(path, "transformer")


def test_header_damage_is_refused(tmp_path):
    path = write_gguf(tmp_path / "ideogram4-Q8_0.gguf", _ideogram_like(tmp_path))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ModelFileError, match=r"ideogram4-Q8_0\.gguf is a truncated or corrupt GGUF file"):
        expect(path, "transformer")
