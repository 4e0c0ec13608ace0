"""LoRAs against two oracles: diffusers 0.42.1 loading PEFT and ai-toolkit files into its own transformer
(`Ideogram4LoraLoaderMixin.lora_state_dict` + `load_lora_adapter`), and, for every layout and weight format, the
reference holding the LoRA merged into its (exactly dequantised) weights. Latents within relative error 1e-4.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil

import pytest
import torch
from diffusers import Ideogram4Pipeline as DiffusersPipeline
from diffusers import Ideogram4Transformer2DModel
from fixtures_checkpoints import tiny_ideogram4, write_headers
from fixtures_gguf import WIDE_DIT, prefer, write_gguf_transformer
from fixtures_lora import Adapter, merged, peft_lora, random_adapters, write_lora
from fixtures_model import TINY_DIT, randomized, write_official_model
from fixtures_nf4 import write_nf4_transformer
from fixtures_quant import SINGLE_FILE_DIT, write_comfy_transformer, write_official_fp8_transformer
from numerics import assert_relative_close
from safetensors.torch import save_file
from test_pipeline import CAPTION, run_oracle
from test_transformer import reference_velocity
from torch import nn

from ideogram4_core.errors import Ideogram4Error, ModelFileError
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import SamplingSettings
from ideogram4_core.weights.lora import LoraChoice, LoraRequest, LoraUse, parse_lora_argument, read_lora, with_loras
from ideogram4_core.weights.transformer_weights import load_transformer

SETTINGS = SamplingSettings(steps=3, guidance=4.0, polish_steps=1, polish_guidance=2.0, mu=0.0, std=1.0)
CPU = torch.device("cpu")
FUSED = ["layers.0.attention.qkv", "layers.1.attention.o", "layers.0.feed_forward.w2", "layers.1.adaln_modulation"]
SPLIT = [
    "layers.0.attention.to_q",
    "layers.0.attention.to_v",
    "layers.1.attention.to_out.0",
    "layers.1.feed_forward.w1",
]
TOP = ["final_layer.linear", "llm_cond_proj"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ideogram4_lora")
    return folder, write_official_model(folder)


def ours(folder, loras: LoraChoice | None = None) -> Ideogram4Pipeline:
    return Ideogram4Pipeline(ModelPaths.from_folder(folder), device=CPU, dtype=torch.float32, loras=loras)


def render(pipeline, seed=3, settings=SETTINGS):
    return pipeline.generate(CAPTION, width=32, height=48, seed=seed, settings=settings)


def with_transformers(oracle, cond=None, uncond=None):
    """The oracle pipeline with its transformers swapped for the duration of one call."""
    return DiffusersPipeline(
        scheduler=oracle.scheduler,
        vae=oracle.vae,
        text_encoder=oracle.text_encoder,
        tokenizer=oracle.tokenizer,
        transformer=cond or oracle.transformer,
        unconditional_transformer=uncond or oracle.unconditional_transformer,
    )


def expect_match(oracle_pipe, result, seed=3, settings=SETTINGS):
    tokens, _ = run_oracle(oracle_pipe, CAPTION, 32, 48, seed, settings)
    assert_relative_close(result.tokens, tokens, tol=1e-4)


# --- the diffusers oracle: PEFT and ai-toolkit files loaded by diffusers itself ---------------------------------


def test_peft_file_matches_diffusers_loader(repo, tmp_path):
    folder, oracle = repo
    file, _ = peft_lora(tmp_path, oracle.transformer, SPLIT + TOP, rank=4, alpha=8.0, seed=1)
    assert read_lora(file).layout == "diffusers"
    transformer = copy.deepcopy(oracle.transformer)
    state, metadata = DiffusersPipeline.lora_state_dict(str(file), return_lora_metadata=True)
    transformer.load_lora_adapter(state, adapter_name="peft", prefix="transformer", metadata=metadata)
    transformer.set_adapters(["peft"], weights=[0.6])
    expect_match(
        with_transformers(oracle, cond=transformer), render(ours(folder, LoraChoice((LoraRequest(file, 0.6),))))
    )


def test_ai_toolkit_file_matches_diffusers_loader(repo, tmp_path):
    folder, oracle = repo
    adapters = random_adapters(oracle.transformer, FUSED, rank=3, seed=2)
    file = write_lora(tmp_path / "aitk.safetensors", adapters, "ai-toolkit")
    assert read_lora(file).layout == "ai-toolkit"
    transformer = oracle.transformer
    transformer.load_lora_adapter(
        DiffusersPipeline.lora_state_dict(str(file)), adapter_name="aitk", prefix="transformer"
    )
    try:
        expect_match(oracle, render(ours(folder, LoraChoice((LoraRequest(file),)))))
    finally:
        transformer.delete_adapters("aitk")


# --- every layout against the merged reference -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "modules", "alpha", "expected"),
    [
        ("peft", SPLIT + TOP, None, "diffusers"),
        ("ai-toolkit", FUSED + TOP, None, "ai-toolkit"),
        ("kohya", FUSED + TOP, 2.0, "kohya"),
        ("kohya-comfy", FUSED, 6.0, "kohya"),
        ("onetrainer", SPLIT + TOP, 1.5, "onetrainer"),
    ],
)
def test_layout_matches_merged_reference(repo, tmp_path, layout, modules, alpha, expected):
    folder, oracle = repo
    adapters = random_adapters(oracle.transformer, modules, rank=3, seed=4, alpha=alpha)
    file = write_lora(tmp_path / f"{layout}.safetensors", adapters, layout)
    assert read_lora(file).layout == expected
    result = render(ours(folder, LoraChoice((LoraRequest(file, 0.8),))))
    expect_match(with_transformers(oracle, cond=merged(oracle.transformer, (adapters, 0.8))), result)


def test_stack_with_negative_strength_and_unconditional_lora(repo, tmp_path):
    folder, oracle = repo
    first = random_adapters(oracle.transformer, FUSED, rank=2, seed=5, alpha=1.0)
    second = random_adapters(oracle.transformer, SPLIT, rank=4, seed=6)
    third = random_adapters(oracle.transformer, FUSED + TOP, rank=3, seed=7, alpha=3.0)
    files = [
        write_lora(tmp_path / f"{i}.safetensors", a, layout)
        for i, (a, layout) in enumerate([(first, "kohya"), (second, "peft"), (third, "ai-toolkit")])
    ]
    choice = LoraChoice((LoraRequest(files[0], 1.2), LoraRequest(files[1], -0.7)), (LoraRequest(files[2], 0.5),))
    reference = with_transformers(
        oracle,
        cond=merged(oracle.transformer, (first, 1.2), (second, -0.7)),
        uncond=merged(oracle.unconditional_transformer, (third, 0.5)),
    )
    expect_match(reference, render(ours(folder, choice)))


def test_single_model_mode_never_reads_the_unconditional_file(repo, tmp_path):
    folder, oracle = repo
    lone = tmp_path / "repo"
    shutil.copytree(folder, lone, ignore=shutil.ignore_patterns("unconditional_transformer"))
    uncond_lora = random_adapters(oracle.transformer, FUSED + TOP, rank=3, seed=8, alpha=3.0)
    cond_lora = random_adapters(oracle.transformer, SPLIT, rank=2, seed=9)
    files = (
        write_lora(tmp_path / "u.safetensors", uncond_lora, "kohya"),
        write_lora(tmp_path / "c.safetensors", cond_lora, "peft"),
    )
    choice = LoraChoice((LoraRequest(files[1], 0.9),), (LoraRequest(files[0]),), unconditional_from_conditional=True)
    pipeline = Ideogram4Pipeline(
        ModelPaths.from_folder(lone, unconditional=False), device=CPU, dtype=torch.float32, loras=choice
    )
    assert pipeline.paths.unconditional_transformer is None
    reference = with_transformers(
        oracle, cond=merged(oracle.transformer, (cond_lora, 0.9)), uncond=merged(oracle.transformer, (uncond_lora, 1.0))
    )
    expect_match(reference, render(pipeline))


def test_few_step_preset_runs_only_the_conditional_branch(repo, tmp_path):
    folder, oracle = repo
    adapters = random_adapters(oracle.transformer, FUSED, rank=2, seed=10)
    file = write_lora(tmp_path / "turbo.safetensors", adapters, "ai-toolkit")
    pipeline = ours(folder, LoraChoice((LoraRequest(file),)))
    pipeline.paths = ModelPaths(
        *(getattr(pipeline.paths, f) for f in ("transformer",)),
        None,
        pipeline.paths.text_encoder,
        pipeline.paths.vae,
        pipeline.paths.tokenizer,
    )
    settings = SamplingSettings(4, 1.0, 0, 1.0, 0.0, 1.75)
    expect_match(
        with_transformers(oracle, cond=merged(oracle.transformer, (adapters, 1.0))),
        render(pipeline, settings=settings),
        settings=settings,
    )


# --- every weight format: the side branch equals the LoRA merged into the exactly dequantised weight ----------


def quantised_transformer(kind: str, folder):
    """(file or folder, diffusers reference holding the exact dequantised weights) for one weight format."""
    if kind in ("official-fp8-fused", "official-fp8-split", "official-nf4", "bf16"):
        reference = randomized(Ideogram4Transformer2DModel(**TINY_DIT), seed=11)
        target = folder / "transformer"
        if kind == "bf16":
            with torch.no_grad():
                for parameter in reference.parameters():
                    parameter.copy_(parameter.bfloat16().float())
            copy.deepcopy(reference).to(torch.bfloat16).save_pretrained(target)
        elif kind == "official-nf4":
            write_nf4_transformer(target, reference, fused=True)
        else:
            write_official_fp8_transformer(target, reference, fused=kind.endswith("fused"))
        return target, reference
    if kind.startswith("gguf-"):
        reference = randomized(Ideogram4Transformer2DModel(**WIDE_DIT), seed=14)
        return write_gguf_transformer(folder / f"ig4-{kind[5:]}.gguf", reference, prefer(kind[5:])), reference
    reference = randomized(Ideogram4Transformer2DModel(**SINGLE_FILE_DIT), seed=12)
    block_format = kind.removeprefix("comfy-") if kind.startswith("comfy-int8") else None
    file = write_comfy_transformer(
        folder / "ig4.safetensors", reference, nvfp4=kind == "comfy-nvfp4-mixed", block_format=block_format
    )
    return file, reference


@pytest.mark.parametrize(
    "kind",
    [
        "bf16", "official-fp8-fused", "official-fp8-split", "official-nf4", "comfy-fp8-scaled", "comfy-nvfp4-mixed",
        "comfy-int8_rowwise", "comfy-int8_convrot", "gguf-Q4_K", "gguf-Q8_0",
    ],
)  # fmt: skip
def test_every_weight_format_with_a_lora(tmp_path, kind):
    path, reference = quantised_transformer(kind, tmp_path)
    base = load_transformer(path, device="cpu", dtype=torch.float32)
    if kind != "bf16":  # the adapted block layers stayed packed
        assert not any(isinstance(base.get_submodule(m), nn.Linear) for m in FUSED[:3])
    if kind.startswith("gguf-"):
        assert base.get_submodule(FUSED[0]).qtype == kind.removeprefix("gguf-")
    before = {k: v.clone() for k, v in base.state_dict().items()}
    adapters = random_adapters(reference, FUSED + TOP, rank=4, seed=13, alpha=2.0)
    lora = read_lora(write_lora(tmp_path / "l.safetensors", adapters, "kohya"))
    model = with_loras(base, (LoraUse(lora, 0.75),))
    gen = torch.Generator().manual_seed(0)
    x, text = torch.randn(1, 6, 128, generator=gen), torch.randn(1, 4, TINY_DIT["llm_features_dim"], generator=gen)
    t = torch.tensor([0.4])
    with torch.no_grad():
        expected = reference_velocity(merged(reference, (adapters, 0.75)), x, t, text, (2, 3))
        got = model(x, t, base.rotary(4, (2, 3), x.device), text)
        plain = base(x, t, base.rotary(4, (2, 3), x.device), text)
        assert_relative_close(got, expected, tol=1e-5)
        assert_relative_close(plain, reference_velocity(reference, x, t, text, (2, 3)), tol=1e-5)
    after = base.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the base is never changed in place
    assert not any(m._forward_hooks for m in base.modules())  # nothing stays attached


# --- reading, refusals and bad input ---------------------------------------------------------------------------


def _refused(file, match):
    with pytest.raises(ModelFileError, match=match) as info:
        read_lora(file)
    assert file.name in str(info.value) or "not found" in str(info.value)


def test_foreign_and_broken_files_are_refused(tmp_path):
    lora = lambda n, r, c: {f"{n}.lora_down.weight": ("BF16", (r, c)), f"{n}.lora_up.weight": ("BF16", (c, r))}  # noqa: E731
    cases = {
        "flux.safetensors": (lora("lora_unet_double_blocks_0_img_attn_qkv", 4, 3072), "a FLUX.1 LoRA"),
        "sdxl.safetensors": (lora("lora_unet_input_blocks_4_1_proj_in", 4, 640), "Stable Diffusion / SDXL LoRA"),
        "qwen.safetensors": (lora("diffusion_model.transformer_blocks.0.img_mlp.net.0.proj", 4, 64), "Qwen-Image"),
        "odd.safetensors": (lora("diffusion_model.layers.0.attention.wq", 4, 64), "layout is unknown"),
        "full.safetensors": (tiny_ideogram4(), "Ideogram 4 transformer, not a LoRA.*--transformer"),
        "dora.safetensors": (
            {
                **lora("diffusion_model.layers.0.attention.o", 4, 256),
                "diffusion_model.layers.0.attention.o.dora_scale": ("BF16", (1, 256)),
            },
            "DoRA",
        ),
        "lokr.safetensors": (
            {
                "lycoris_layers_0_attention_qkv.lokr_w1": ("BF16", (4, 4)),
                "lycoris_layers_0_attention_qkv.lokr_w2": ("BF16", (4, 4)),
            },
            "LoKr",
        ),
    }
    for name, (spec, match) in cases.items():
        _refused(write_headers(tmp_path / name, spec), match)
    _refused(tmp_path / "missing.safetensors", "not found")
    half = write_headers(
        tmp_path / "half.safetensors", {"diffusion_model.layers.0.attention.o.lora_A.weight": ("F32", (4, 256))}
    )
    _refused(half, "lacks its up")
    nan = {
        "transformer.layers.0.attention.to_q.lora_A.weight": torch.full((2, 128), float("nan")),
        "transformer.layers.0.attention.to_q.lora_B.weight": torch.ones(128, 2),
    }
    save_file(nan, tmp_path / "nan.safetensors")
    _refused(tmp_path / "nan.safetensors", "NaN/Inf")


def test_lora_for_another_model_size_is_refused(repo, tmp_path):
    folder, oracle = repo
    wide = [Adapter("layers.0.attention.o", torch.ones(2, 4608), torch.ones(4608, 2))]
    file = write_lora(tmp_path / "big.safetensors", wide, "ai-toolkit")
    with pytest.raises(ModelFileError, match=r"big.safetensors does not fit this model.*different model size"):
        render(ours(folder, LoraChoice((LoraRequest(file),))))
    deep = random_adapters(oracle.transformer, ["layers.1.attention.o"], rank=2, seed=1)
    file = write_lora(
        tmp_path / "deep.safetensors", [dataclasses.replace(deep[0], module="layers.7.attention.o")], "kohya"
    )
    with pytest.raises(ModelFileError, match=r"deep.safetensors does not fit"):
        render(ours(folder, LoraChoice((LoraRequest(file),))))


def test_strength_parsing():
    assert parse_lora_argument("a.safetensors") == LoraRequest(__import__("pathlib").Path("a.safetensors"))
    assert parse_lora_argument("dir/a.safetensors:-0.5").strength == -0.5
    assert parse_lora_argument(r"C:\loras\a.safetensors").strength == 1.0
    for bad in ("a.safetensors:strong", "a.safetensors:nan", "a.safetensors:inf"):
        with pytest.raises(Ideogram4Error, match="strength"):
            parse_lora_argument(bad)


def test_after_errors_and_loras_the_plain_run_is_bit_identical(repo, tmp_path):
    folder, oracle = repo
    plain = render(ours(folder)).tokens
    broken = write_headers(
        tmp_path / "flux.safetensors",
        {
            "lora_unet_double_blocks_0.lora_down.weight": ("F32", (2, 8)),
            "lora_unet_double_blocks_0.lora_up.weight": ("F32", (8, 2)),
        },
    )
    good = write_lora(tmp_path / "good.safetensors", random_adapters(oracle.transformer, FUSED, 2, 3), "ai-toolkit")
    with pytest.raises(ModelFileError):
        render(ours(folder, LoraChoice((LoraRequest(good),), (LoraRequest(broken),))))
    assert torch.equal(render(ours(folder)).tokens, plain)
    assert not torch.equal(render(ours(folder, LoraChoice((LoraRequest(good),)))).tokens, plain)
    assert torch.equal(render(ours(folder, LoraChoice((LoraRequest(good, 0.0),)))).tokens, plain)
    assert torch.equal(render(ours(folder)).tokens, plain)
