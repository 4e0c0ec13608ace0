"""The official NF4 format: exact dequantisation, packed storage, and the whole nf4 repo against the oracle.

Fixtures come from bitsandbytes' own quantiser; the oracle is `diffusers.Ideogram4Pipeline` holding the exactly
dequantised weights, so latents must agree to relative error 1e-4 (fp32, CPU).
"""

from __future__ import annotations

import shutil

import pytest
import torch
from fixtures_model import write_official_model
from fixtures_nf4 import dequantize, quantize, write_nf4_transformer
from fixtures_quant import nf4, nf4_config, write_quantised_text_encoder
from safetensors.torch import load_file, save_file
from test_pipeline import CAPTION, check_against_oracle

from ideogram4_core.errors import ModelFileError
from ideogram4_core.models.modules import materialize
from ideogram4_core.models.text_encoder import load_text_encoder
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import SamplingSettings
from ideogram4_core.weights.quant import ConcatLinear, detect_format
from ideogram4_core.weights.quant.nf4 import Nf4Linear, dequantize_nf4
from ideogram4_core.weights.safetensors_io import read_header, weight_files
from ideogram4_core.weights.transformer_weights import load_transformer


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The official nf4 repo: transformer/ with fused names, unconditional_transformer/ split, text_encoder/."""
    folder = tmp_path_factory.mktemp("ideogram4_nf4")
    oracle = write_official_model(folder)
    for name, fused in (("transformer", True), ("unconditional_transformer", False)):
        shutil.rmtree(folder / name)
        write_nf4_transformer(folder / name, getattr(oracle, name), fused=fused)
    shutil.rmtree(folder / "text_encoder")
    write_quantised_text_encoder(folder / "text_encoder", oracle.text_encoder, nf4, nf4_config())
    return folder, oracle


@pytest.mark.parametrize("shape", [(96, 128), (128, 96), (6, 10), (3, 70)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_dequantiser_is_bit_identical_to_bitsandbytes(shape, dtype):
    stored = quantize(torch.randn(shape, generator=torch.Generator().manual_seed(0)))
    ours = dequantize_nf4(stored["weight"], stored["weight.absmax"], stored["weight.quant_map"], shape, 64, dtype)
    assert ours.dtype == dtype and torch.equal(ours, dequantize(stored, dtype))


def test_official_files_stay_packed(repo):
    folder, _ = repo
    assert detect_format([read_header(f) for f in weight_files(folder / "transformer")]).name == "official-nf4"
    models = [
        load_transformer(folder / name, device="cpu", dtype=torch.float32)
        for name in ("transformer", "unconditional_transformer")
    ]
    assert isinstance(models[0].layers[0].attention.qkv, Nf4Linear)
    assert isinstance(models[1].layers[0].attention.qkv, ConcatLinear)
    models.append(load_text_encoder(folder / "text_encoder", device="cpu", dtype=torch.float32))
    for model in models:
        assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
        for linear in (m for m in model.modules() if isinstance(m, Nf4Linear)):
            assert linear.weight.dtype == torch.uint8
            assert linear.weight.nbytes == linear.in_features * linear.out_features / 2


def test_latents_match_the_oracle(repo):
    folder, oracle = repo
    ours = Ideogram4Pipeline(ModelPaths.from_folder(folder), device=torch.device("cpu"), dtype=torch.float32)
    settings = SamplingSettings(steps=4, guidance=7.0, polish_steps=1, polish_guidance=3.0, mu=0.5, std=1.75)
    check_against_oracle((oracle, ours), CAPTION, 48, 48, seed=5, settings=settings)


def tiny_tree() -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.SiLU(), torch.nn.Linear(96, 32, bias=False))


def test_any_module_tree_and_config_detection():
    """Detected from a transformers `quantization_config` alone; `take_linears` only needs Linear prefixes."""
    torch.manual_seed(0)
    reference = tiny_tree()
    tensors = {"0.bias": reference[0].bias.detach().clone()}
    for index in (0, 2):
        stored = quantize(reference[index].weight.detach())
        tensors.update({f"{index}.{k}": v for k, v in stored.items()})
        reference[index].weight.data.copy_(dequantize(stored))
    fmt = detect_format([], nf4_config())
    assert fmt.name == "official-nf4"
    linears = fmt.take_linears(tensors, torch.float32)
    assert not tensors and set(linears) == {"0", "2"}
    ours = materialize(tiny_tree, tensors, dtype=torch.float32, what="test model", replacements=linears)
    x = torch.randn(5, 64)
    assert torch.equal(ours(x), reference(x))


@pytest.mark.parametrize(
    ("options", "message"), [({"quant_type": "fp4"}, "quant_type 'fp4'"), ({"nested": True}, "nested statistics")]
)
def test_other_bitsandbytes_variants_are_refused(tmp_path, options, message):
    file = tmp_path / "model.safetensors"
    save_file({f"layers.0.w1.{k}": v for k, v in quantize(torch.randn(32, 64), **options).items()}, file)
    fmt = detect_format([read_header(file)])
    assert fmt.name == "official-nf4"
    with pytest.raises(ModelFileError, match=f"layers.0.w1: bitsandbytes 4-bit weights with {message}"):
        fmt.take_linears(load_file(file), torch.float32)
