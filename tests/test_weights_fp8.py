"""Official fp8 (per-row scales): exact dequantisation, 1-byte storage, fused and split attention names and both
branches against the oracle, branch checks, and the optional real fp8 matmul's dispatch.

The oracle is `diffusers.Ideogram4Pipeline` holding the exactly dequantised weights (fixtures_quant), so latents
agree to relative error 1e-4 (fp32, CPU). Transformers ask for fp8 matmuls by default, which CPUs never run; here
their dispatch and arithmetic are checked with a stand-in for `torch._scaled_mm` (the real kernel's fidelity:
test_fp8_matmul_fidelity.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from fixtures_quant import official_fp8, write_official_fp8_transformer, write_quantised_repo
from safetensors.torch import load_file, save_file
from test_pipeline import CAPTION, check_against_oracle
from torch import nn

from ideogram4_core.errors import ModelFileError
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import SamplingSettings
from ideogram4_core.weights.quant import ConcatLinear
from ideogram4_core.weights.quant import fp8 as fp8_module
from ideogram4_core.weights.quant.fp8 import Fp8Linear, cuda_fp8_capable, describe_fp8_path
from ideogram4_core.weights.transformer_weights import load_transformer

SETTINGS = SamplingSettings(steps=3, guidance=4.0, polish_steps=1, polish_guidance=2.0, mu=0.0, std=1.0)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """Official layout, all fp8: transformer/ with fused names, unconditional_transformer/ split, text_encoder/."""
    folder = tmp_path_factory.mktemp("ideogram4_fp8")
    flag = {"ideogram_fp8_weight_only": True}
    return folder, write_quantised_repo(folder, write_official_fp8_transformer, official_fp8, flag)


def test_pipeline_matches_oracle(repo):
    folder, oracle = repo
    ours = Ideogram4Pipeline(ModelPaths.from_folder(folder), device=CPU, dtype=torch.float32)
    check_against_oracle((oracle, ours), CAPTION, 32, 48, seed=4, settings=SETTINGS)


@pytest.mark.parametrize("name", ["transformer", "unconditional_transformer"])
def test_linears_stay_fp8(repo, name):
    model = load_transformer(repo[0] / name, device="cpu", dtype=torch.float32)
    layers = [m for m in model.modules() if isinstance(m, Fp8Linear)]
    assert layers and not any(isinstance(m, nn.Linear) for m in model.modules())
    for layer in layers:
        assert layer.weight.dtype == torch.float8_e4m3fn and layer.weight.element_size() == 1
        assert layer.weight_scale.shape == (layer.out_features, 1)
    qkv = model.layers[0].attention.qkv
    assert isinstance(qkv, ConcatLinear if name.startswith("uncond") else Fp8Linear)
    assert model.layers[0].attention_norm1.weight.dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dequantisation_is_exact(dtype):
    weight = torch.randn(48, 80, generator=torch.Generator().manual_seed(0)) * 5
    stored, exact = official_fp8("layer", weight)
    bias = torch.randn(48)
    layer = Fp8Linear(stored["weight"], stored["weight_scale"], bias.to(dtype))
    expected = (stored["weight"].double() * stored["weight_scale"].double()[:, None]).float()
    assert torch.equal(exact, expected) and torch.equal(layer.dequantized_weight(dtype), expected.to(dtype))
    x = torch.randn(3, 80, dtype=dtype)
    assert torch.equal(layer(x), F.linear(x, expected.to(dtype), bias.to(dtype)))


def test_swapped_branches_are_refused(repo, tmp_path):
    folder, _ = repo
    with pytest.raises(ModelFileError, match="unconditional Ideogram 4 transformer; use it as --unconditional"):
        load_transformer(folder / "unconditional_transformer", device="cpu", dtype=torch.float32, branch="cond")
    with pytest.raises(ModelFileError, match=r"not the unconditional .* use it as --transformer"):
        load_transformer(folder / "transformer", device="cpu", dtype=torch.float32, branch="uncond")
    tensors = load_file(folder / "transformer" / "diffusion_pytorch_model.safetensors")
    by_metadata = tmp_path / "ideogram4_fp8.safetensors"
    save_file(tensors, by_metadata, metadata={"model_type": "ideogram4_uncond"})
    by_name = tmp_path / "ig4_uncond_fp8.safetensors"
    save_file(tensors, by_name)
    for path in (by_metadata, by_name):
        with pytest.raises(ModelFileError, match="--unconditional-transformer"):
            load_transformer(path, device="cpu", dtype=torch.float32, branch="cond")
        assert load_transformer(path, device="cpu", dtype=torch.float32, branch="uncond") is not None
    neutral = tmp_path / "ideogram4.safetensors"
    save_file(tensors, neutral)
    for branch in ("cond", "uncond", None):
        assert load_transformer(neutral, device="cpu", dtype=torch.float32, branch=branch) is not None


def test_pipeline_refuses_swapped_pair(repo):
    folder, _ = repo
    paths = ModelPaths.from_folder(folder)
    swapped = ModelPaths(paths.unconditional_transformer, paths.transformer, paths.text_encoder, paths.vae,
                         tokenizer=paths.tokenizer)  # fmt: skip
    with pytest.raises(ModelFileError, match="unconditional"):
        Ideogram4Pipeline(swapped, device=CPU, dtype=torch.float32).generate(
            CAPTION, width=32, height=32, seed=0, settings=SETTINGS
        )


def _fake_scaled_mm(calls: list):
    """Stand-in for torch._scaled_mm (tensor-wise scales): exact float32 arithmetic on the fp8 operands."""

    def scaled_mm(a, b, *, scale_a, scale_b, out_dtype):
        calls.append((a, b, scale_a, scale_b, out_dtype))
        return (a.float() @ b.float() * scale_a * scale_b).to(out_dtype)

    return scaled_mm


@pytest.mark.parametrize("input_scale", [None, 0.02])
def test_fp8_matmul_dispatch_and_arithmetic(monkeypatch, input_scale):
    gen = torch.Generator().manual_seed(1)
    stored, exact = official_fp8("layer", torch.randn(32, 64, generator=gen))
    bias = torch.randn(32, generator=gen)
    scale = None if input_scale is None else torch.tensor(input_scale)
    layer = Fp8Linear(stored["weight"], stored["weight_scale"], bias, scale)
    x = torch.randn(2, 5, 64, generator=gen)
    calls: list = []
    monkeypatch.setattr(torch, "_scaled_mm", _fake_scaled_mm(calls), raising=False)
    dequantised = layer(x)
    layer.fp8_matmul = True
    assert torch.equal(layer(x), dequantised) and not calls  # CPU: no fp8 matmul, same result
    monkeypatch.setattr(fp8_module, "cuda_fp8_capable", lambda device: True)
    got = layer(x)
    (a, b, scale_a, scale_b, out_dtype), = calls  # fmt: skip
    assert a.dtype == b.dtype == torch.float8_e4m3fn and a.shape == (10, 64) and b.shape == (64, 32)
    assert b.stride() == (1, 64) and out_dtype == torch.float32 and float(scale_b) == 1.0
    expected_scale = input_scale if input_scale is not None else float(x.abs().max()) / 448
    assert float(scale_a) == pytest.approx(expected_scale, rel=1e-6)
    x_quantised = (x / scale_a).to(torch.float8_e4m3fn).float() * scale_a
    torch.testing.assert_close(got, F.linear(x_quantised, exact, bias), rtol=1e-5, atol=1e-5)
    assert got.shape == (2, 5, 32) and got.dtype == x.dtype


def test_fp8_matmul_falls_back_where_unsupported(monkeypatch):
    calls: list = []
    monkeypatch.setattr(torch, "_scaled_mm", _fake_scaled_mm(calls), raising=False)
    monkeypatch.setattr(fp8_module, "cuda_fp8_capable", lambda device: True)
    odd, _ = official_fp8("layer", torch.randn(24, 40))  # sizes not divisible by 16
    e5m2 = {"weight": torch.randn(32, 64).to(torch.float8_e5m2), "weight_scale": torch.tensor(0.5)}
    for stored in (odd, e5m2):
        layer = Fp8Linear(stored["weight"], stored["weight_scale"], None)
        layer.fp8_matmul = True
        x = torch.randn(3, stored["weight"].shape[1])
        assert torch.equal(layer(x), F.linear(x, layer.dequantized_weight(torch.float32)))
    assert not calls


def test_cuda_capability_gate(monkeypatch):
    assert not cuda_fp8_capable(torch.device("cpu"))
    for capability, expected in (((8, 6), False), ((8, 9), True), ((9, 0), True), ((12, 0), True)):
        properties = SimpleNamespace(major=capability[0], minor=capability[1])
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device, p=properties: p)
        assert cuda_fp8_capable(torch.device("cuda", 0)) is expected


def test_fp8_matmuls_are_the_default_and_exact_fp8_turns_them_off(repo):
    """The transformer loader asks for fp8 matmuls unless told not to; the pipeline's `exact_fp8` and the CLI's
    --exact-fp8 reach it."""
    folder, _ = repo
    for model, wanted in (
        (load_transformer(folder / "transformer", device="cpu", dtype=torch.float32), True),
        (load_transformer(folder / "transformer", device="cpu", dtype=torch.float32, fp8_matmul=False), False),
        (Ideogram4Pipeline(ModelPaths.from_folder(folder), device=CPU, dtype=torch.float32).load_branch("cond"), True),
        (Ideogram4Pipeline(ModelPaths.from_folder(folder), device=CPU, dtype=torch.float32, exact_fp8=True)
         .load_branch("uncond"), False),
    ):  # fmt: skip
        layers = [m for m in model.modules() if isinstance(m, Fp8Linear)]
        assert layers and all(layer.fp8_matmul is wanted for layer in layers)


@pytest.mark.parametrize("flag", [[], ["--exact-fp8"]])
def test_cli_exact_fp8_flag(repo, monkeypatch, tmp_path, flag):
    from ideogram4_core.cli import generate
    from ideogram4_core.cli.main import main

    made = []

    class Recorder(Ideogram4Pipeline):
        def generate(self, *args, **kwargs):
            made.append(self.exact_fp8)
            raise ModelFileError("stop here")

    monkeypatch.setattr(generate, "Ideogram4Pipeline", Recorder)
    args = ["generate", "--model", str(repo[0]), "--caption", "x", "--width", "64", "--height", "64"]
    assert main([*args, "--device", "cpu", "--output", str(tmp_path / "out.png"), *flag]) != 0
    assert made == [bool(flag)]


def test_describe_fp8_path(monkeypatch):
    """What the loaders show: the path each fp8 layer takes on the device."""
    even, _ = official_fp8("layer", torch.randn(32, 64))
    odd, _ = official_fp8("layer", torch.randn(24, 40))
    model = nn.Sequential(*(Fp8Linear(stored["weight"], stored["weight_scale"], None) for stored in (even, odd)))
    cuda = torch.device("cuda")
    assert describe_fp8_path(nn.Sequential(nn.Linear(2, 2)), CPU) == ""
    assert describe_fp8_path(model, cuda) == "fp8 dequantised per layer (exact)"
    fp8_module.use_fp8_matmul(model, True)
    assert describe_fp8_path(model, CPU) == "fp8 dequantised per layer (exact: this device has no fp8 matmuls)"
    monkeypatch.setattr(fp8_module, "cuda_fp8_capable", lambda device: True)
    assert describe_fp8_path(model, cuda) == "fp8 matmuls in 1 of 2 fp8 layers, the others dequantised"
    assert describe_fp8_path(model[:1], cuda) == "fp8 matmuls"
