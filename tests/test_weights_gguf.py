"""GGUF transformers (sd.cpp-style exports: original names, no `general.architecture`) and Qwen3-VL text encoders
(llama.cpp names) written by GGUFWriter: renders and features against the reference fed the exactly dequantised
weights, packed storage, cond/uncond pairing, mixed pairs, and the refusals.

Latents agree to relative error 1e-4 (fp32, CPU), text features as in test_text_encoder.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import Ideogram4Transformer2DModel
from fixtures_checkpoints import FOREIGN
from fixtures_gguf import WIDE_DIT, prefer, write_gguf, write_gguf_text_encoder, write_gguf_transformer
from fixtures_lora import merged, random_adapters, write_lora
from fixtures_model import TINY_DIT, randomized, write_official_model
from fixtures_quant import SINGLE_FILE_DIT, single_file_dits, write_comfy_transformer, write_official_fp8_transformer
from fixtures_text import tiny_qwen3_vl, write_tokenizer
from numerics import assert_relative_close
from PIL import Image
from test_lora import FUSED, SPLIT, TOP, expect_match, with_transformers
from test_pipeline import CAPTION, check_against_oracle, run_oracle
from test_text_encoder import JSON_CAPTION, NON_ASCII, _assert_close, _Oracle
from test_transformer import reference_velocity
from torch import nn

from ideogram4_core.cli import main
from ideogram4_core.errors import ModelFileError
from ideogram4_core.models.text_encoder import TAP_LAYERS, TextEncoder, load_tokenizer
from ideogram4_core.models.tokenizer import CaptionTokenizer, bundled_tokenizer_dir
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.sampling.schedule import SamplingSettings
from ideogram4_core.weights.identify import expect, identify
from ideogram4_core.weights.lora import LoraChoice, LoraRequest
from ideogram4_core.weights.quant.gguf import GgufEmbedding, GgufLinear
from ideogram4_core.weights.transformer_weights import load_transformer

SETTINGS = SamplingSettings(steps=3, guidance=4.0, polish_steps=1, polish_guidance=2.0, mu=0.0, std=1.0)
CPU = torch.device("cpu")
SPECIAL = "<|im_start|>user\n<|vision_start|><|image_pad|> 2026年 12,345.67 → ﬁn <|im_end|>"
"""Added tokens written in the text, digits (split one by one), CJK and a ligature."""
PREFIX = "model.diffusion_model."
TRANSFORMER_TYPES = ("BF16", "F16", "Q8_0", "Q5_0", "Q5_1", "Q4_0", "Q4_1", "Q6_K", "Q5_K", "Q4_K", "Q3_K", "Q2_K",
                     "IQ4_NL")  # fmt: skip


def _velocities(reference: nn.Module, ours: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x, text = torch.randn(1, 6, 128, generator=gen), torch.randn(1, 4, TINY_DIT["llm_features_dim"], generator=gen)
    t = torch.tensor([0.4])
    with torch.no_grad():
        return ours(x, t, ours.rotary(4, (2, 3), x.device), text), reference_velocity(reference, x, t, text, (2, 3))


@pytest.mark.parametrize("qtype", TRANSFORMER_TYPES)
def test_transformer_matches_reference_for_every_type(tmp_path, qtype):
    reference = randomized(Ideogram4Transformer2DModel(**WIDE_DIT), seed=9)
    file = write_gguf_transformer(tmp_path / f"ideogram4-{qtype}.gguf", reference, prefer(qtype), prefix=PREFIX)
    identity = expect(file, "transformer")
    assert identity.format.startswith(f"gguf {qtype}") and identity.branch is None
    ours = load_transformer(file, device="cpu", dtype=torch.float32)
    got, expected = _velocities(reference, ours)
    assert_relative_close(got, expected, tol=1e-5)
    qkv = ours.layers[0].attention.qkv
    if qtype in ("BF16", "F16"):
        assert isinstance(qkv, nn.Linear)  # plain floats load as plain tensors in the compute dtype
    else:
        assert isinstance(qkv, GgufLinear) and qkv.qtype == qtype and qkv.weight.dtype == torch.uint8
        assert not any(isinstance(m, nn.Linear) for m in ours.modules())


@pytest.fixture(scope="module")
def gguf_set(tmp_path_factory):
    """A Q4_K set in `cond/` and `uncond/` folders (same file name, no metadata), a Q8_0 text encoder GGUF with
    its own vocabulary, and the official VAE."""
    folder = tmp_path_factory.mktemp("ideogram4_gguf")
    oracle = write_official_model(folder, seed=3)
    for offset, name in enumerate(("transformer", "unconditional_transformer")):
        setattr(oracle, name, randomized(Ideogram4Transformer2DModel(**WIDE_DIT), 40 + offset))
    (folder / "cond").mkdir()
    (folder / "uncond").mkdir()
    cond = write_gguf_transformer(folder / "cond" / "ideogram-4-Q4_K.gguf", oracle.transformer, prefer("Q4_K"))
    uncond = write_gguf_transformer(
        folder / "uncond" / "ideogram-4-Q4_K.gguf", oracle.unconditional_transformer, prefer("Q4_K"), prefix=PREFIX
    )
    text = write_gguf_text_encoder(folder / "Qwen3-VL-8B-Q8_0.gguf", oracle.text_encoder, prefer("Q8_0"))
    paths = ModelPaths(cond, uncond, text, folder / "vae")
    return oracle, Ideogram4Pipeline(paths, device=CPU, dtype=torch.float32)


def test_gguf_set_renders_like_the_reference(gguf_set):
    check_against_oracle(gguf_set, CAPTION, 48, 32, seed=2, settings=SETTINGS)


def test_loras_on_both_gguf_branches_match_the_merged_reference(gguf_set, tmp_path):
    """A conditional and an unconditional LoRA on the Q4_K pair: the side branches on the packed layers render as
    the reference holding each LoRA merged into the exactly dequantised weights."""
    oracle, ours = gguf_set
    cond = random_adapters(oracle.transformer, FUSED + TOP, rank=4, seed=21, alpha=2.0)
    uncond = random_adapters(oracle.unconditional_transformer, SPLIT, rank=3, seed=22)
    choice = LoraChoice(
        (LoraRequest(write_lora(tmp_path / "cond.safetensors", cond, "kohya"), 0.8),),
        (LoraRequest(write_lora(tmp_path / "uncond.safetensors", uncond, "peft"), -0.6),),
    )
    pipeline = Ideogram4Pipeline(ours.paths, device=CPU, dtype=torch.float32, loras=choice)
    reference = with_transformers(
        oracle,
        cond=merged(oracle.transformer, (cond, 0.8)),
        uncond=merged(oracle.unconditional_transformer, (uncond, -0.6)),
    )
    expect_match(reference, pipeline.generate(CAPTION, width=32, height=48, seed=3, settings=SETTINGS))


def test_cli_renders_gguf_files_with_a_lora(gguf_set, tmp_path, capsys):
    """`generate` with the GGUF pair, the GGUF text encoder (its own vocabulary, no --tokenizer) and a LoRA."""
    oracle, ours = gguf_set
    adapters = random_adapters(oracle.transformer, FUSED, rank=2, seed=23)  # ai-toolkit files carry no alpha
    lora = write_lora(tmp_path / "style.safetensors", adapters, "ai-toolkit")
    paths = ours.paths
    code = main([str(a) for a in (
        "generate", "--transformer", paths.transformer, "--unconditional-transformer", paths.unconditional_transformer,
        "--text-encoder", paths.text_encoder, "--vae", paths.vae, "--lora", f"{lora}:0.7", "--caption", CAPTION,
        "--width", 32, "--height", 48, "--seed", 5, "--steps", 3, "--guidance", 4, "--polish-steps", 1,
        "--polish-guidance", 2, "--mu", 0, "--std", 1, "--device", "cpu", "--dtype", "fp32",
        "--output", tmp_path / "out.png",
    )])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    _, expected = run_oracle(
        with_transformers(oracle, cond=merged(oracle.transformer, (adapters, 0.7))), CAPTION, 32, 48, 5, SETTINGS
    )
    got = np.asarray(Image.open(tmp_path / "out.png"), dtype=np.float64) / 255
    assert np.abs(got - np.round(expected[0] * 255) / 255).max() <= 2 / 255 + 1e-9


def test_branches_from_cond_and_uncond_folders(gguf_set):
    paths = gguf_set[1].paths
    assert expect(paths.transformer, "conditional_transformer").branch == "cond"
    assert expect(paths.unconditional_transformer, "unconditional_transformer").branch == "uncond"
    with pytest.raises(ModelFileError, match="is not the conditional Ideogram 4 transformer: it is the unconditional"):
        expect(paths.unconditional_transformer, "conditional_transformer")


def test_swapped_pair_is_refused_before_loading(gguf_set):
    ours = gguf_set[1]
    swapped = ModelPaths(ours.paths.unconditional_transformer, ours.paths.transformer, ours.paths.text_encoder,
                         ours.paths.vae)  # fmt: skip
    pipeline = Ideogram4Pipeline(swapped, device=CPU, dtype=torch.float32)
    with pytest.raises(ModelFileError, match="unconditional"):
        pipeline.generate(CAPTION, width=32, height=32, seed=1, settings=SETTINGS)


@pytest.mark.parametrize("fp8", ["comfy-fp8-scaled", "official-fp8"])
def test_gguf_conditional_with_fp8_unconditional(tmp_path, fp8):
    """A mixed pair: GGUF Q5_K conditional, an fp8 unconditional (a ComfyUI fp8_scaled file or the official
    per-row fp8 folder), GGUF text encoder (Q4_0)."""
    oracle = write_official_model(tmp_path, seed=6)
    single_file_dits(oracle, seed=50)
    cond = write_gguf_transformer(tmp_path / "ideogram4-Q5_K.gguf", oracle.transformer, prefer("Q5_K"),
                                  metadata={"model_type": "ideogram4_cond"})  # fmt: skip
    if fp8 == "official-fp8":
        uncond = write_official_fp8_transformer(tmp_path / "uncond_fp8", oracle.unconditional_transformer, fused=False)
    else:
        uncond = write_comfy_transformer(
            tmp_path / "ideogram4_unconditional_fp8_scaled.safetensors", oracle.unconditional_transformer
        )
    assert expect(uncond, "unconditional_transformer").format == fp8
    text = write_gguf_text_encoder(tmp_path / "qwen3vl-Q4_0.gguf", oracle.text_encoder, prefer("Q4_0"))
    assert identify(cond).branch == "cond"
    paths = ModelPaths(cond, uncond, text, tmp_path / "vae", tokenizer=tmp_path / "tokenizer")
    check_against_oracle((oracle, Ideogram4Pipeline(paths, device=CPU, dtype=torch.float32)), CAPTION, 32, 48,
                         seed=4, settings=SETTINGS)  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return write_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.mark.parametrize("qtype", ["Q8_0", "Q5_1", "Q4_1", "IQ4_NL", "BF16"])
def test_text_encoder_features_match_reference(tmp_path, tokenizer, qtype):
    model = tiny_qwen3_vl(seed=4)
    path = write_gguf_text_encoder(tmp_path / f"qwen3vl-{qtype}.gguf", model, prefer(qtype))
    identity = expect(path, "text_encoder")
    assert identity.format.startswith(f"gguf {qtype}")
    ours = TextEncoder.load(path, device="cpu", dtype=torch.float32)  # tokenizer from the GGUF's own vocabulary
    captions = [JSON_CAPTION, NON_ASCII]
    _assert_close(ours.encode(captions), _Oracle(model, tokenizer).features(captions))
    if qtype != "BF16":
        linears = [m for m in ours.model.modules() if isinstance(m, GgufLinear)]
        assert len(linears) == 7 * (max(TAP_LAYERS) + 1)
        assert isinstance(ours.model.embed_tokens, GgufEmbedding) and ours.model.embed_tokens.qtype == qtype


def test_tokenizer_from_the_gguf_vocabulary_or_bundled(tmp_path, tokenizer):
    model = tiny_qwen3_vl(num_layers=36, seed=1)
    with_vocab = write_gguf_text_encoder(tmp_path / "with.gguf", model, prefer("Q8_0"))
    without = write_gguf_text_encoder(tmp_path / "without.gguf", model, prefer("Q8_0"), vocabulary=False)
    files = CaptionTokenizer.from_folder(tokenizer)
    for path in (with_vocab, without):
        ours = load_tokenizer(path)
        assert ours.vocab_size == files.vocab_size
        for caption in (JSON_CAPTION, NON_ASCII, "  spaces\tand\nnewlines  \n\n", SPECIAL):
            assert ours.token_ids(caption) == files.token_ids(caption)
    assert load_tokenizer(without).vocab_size == CaptionTokenizer.from_folder(bundled_tokenizer_dir()).vocab_size


@pytest.mark.parametrize(("model", "pre"), [("llama", "default"), ("gpt2", "llama-bpe")])
def test_a_vocabulary_of_another_tokenizer_is_refused(tmp_path, model, pre):
    path = write_gguf_text_encoder(
        tmp_path / "qwen3vl.gguf", tiny_qwen3_vl(seed=1), prefer("Q8_0"), tokenizer=(model, pre)
    )
    with pytest.raises(ModelFileError, match=rf"qwen3vl\.gguf stores a '{model}' tokenizer .*not Qwen2's.*tokenizer/"):
        TextEncoder.load(path, device="cpu", dtype=torch.float32)


def test_text_encoder_metadata_sets_rotary_theta(tmp_path, tokenizer):
    """A GGUF's `qwen3vl.rope.freq_base` is honoured (here the oracle's own theta is changed to match)."""
    model = tiny_qwen3_vl(seed=2)
    model.config.text_config.rope_parameters["rope_theta"] = 1_000_000.0
    model.language_model.rotary_emb.__init__(model.config.text_config)
    path = write_gguf_text_encoder(tmp_path / "qwen3vl.gguf", model, prefer("Q8_0"))
    ours = TextEncoder.load(path, device="cpu", dtype=torch.float32)
    assert ours.model.config.rope_theta == 1_000_000.0
    _assert_close(ours.encode([JSON_CAPTION]), _Oracle(model, tokenizer).features([JSON_CAPTION]))


def _gguf_of(path, spec: dict, arch: str | None = None):
    """A GGUF holding zero tensors with the names and shapes of a header-only fixture spec."""
    return write_gguf(path, {name: (np.zeros(shape, np.float32), "F32") for name, (_, shape) in spec.items()},
                      arch=arch)  # fmt: skip


@pytest.mark.parametrize("name", ["flux1-dev.safetensors", "qwen_image_bf16.safetensors"])
def test_other_diffusion_models_are_refused(tmp_path, name):
    spec, description = FOREIGN[name]
    small = {n: (dtype, tuple(min(d, 8) for d in shape)) for n, (dtype, shape) in spec.items()}
    path = _gguf_of(tmp_path / name.replace(".safetensors", "-Q4_0.gguf"), small, arch=name.split("_")[0][:4])
    with pytest.raises(ModelFileError, match=rf"is not an Ideogram 4 transformer: it is {description}"):
        load_transformer(path, device="cpu", dtype=torch.float32)


def test_text_encoder_gguf_as_the_model_and_back(tmp_path):
    text = write_gguf_text_encoder(tmp_path / "Qwen3-VL-8B-Q8_0.gguf", tiny_qwen3_vl(seed=0), prefer("Q8_0"))
    with pytest.raises(ModelFileError, match="is not an Ideogram 4 transformer: it is the Ideogram 4 text encoder"):
        load_transformer(text, device="cpu", dtype=torch.float32)
    dit = write_gguf_transformer(tmp_path / "ideogram4-Q8_0.gguf", randomized(
        Ideogram4Transformer2DModel(**SINGLE_FILE_DIT), 1), prefer("Q8_0"))  # fmt: skip
    with pytest.raises(ModelFileError, match="is not a Qwen3-VL text encoder: it is the Ideogram 4 transformer"):
        TextEncoder.load(dit, device="cpu", dtype=torch.float32)


@pytest.mark.parametrize(
    ("arch", "q_norm", "message"),
    [
        ("llama", False, "a 32-wide language model without q/k norms .*GGUF architecture 'llama'"),
        ("qwen3", True, "a text-only Qwen3 language model .*not the Qwen3-VL one"),
    ],
)
def test_other_language_models_are_refused_as_text_encoder(tmp_path, arch, q_norm, message):
    model = tiny_qwen3_vl(seed=0)
    path = write_gguf_text_encoder(tmp_path / f"{arch}-8b.gguf", model, prefer("Q8_0"), arch=arch)
    if not q_norm:  # a LLaMA has no per-head q/k norms: drop them from the file
        from gguf import GGUFReader

        reader = GGUFReader(path)
        kept = {t.name: (np.array(t.data), t.tensor_type.name) for t in reader.tensors if "_norm" not in t.name
                or t.name.endswith(("attn_norm.weight", "ffn_norm.weight", "output_norm.weight"))}  # fmt: skip
        path = write_gguf(tmp_path / f"{arch}-8b-plain.gguf", kept, arch=arch)
    with pytest.raises(ModelFileError, match=rf"is not a Qwen3-VL text encoder: it is {message}"):
        TextEncoder.load(path, device="cpu", dtype=torch.float32)


def test_unexpected_shapes_name_the_file(tmp_path):
    reference = randomized(Ideogram4Transformer2DModel(**SINGLE_FILE_DIT), seed=2)
    path = write_gguf_transformer(tmp_path / "ideogram4-Q8_0.gguf", reference, prefer("Q8_0"))
    from gguf import GGUFReader

    tensors = {t.name: (np.array(t.data), t.tensor_type.name) for t in GGUFReader(path).tensors}
    data, qtype = tensors["layers.1.feed_forward.w3.weight"]
    tensors["layers.1.feed_forward.w3.weight"] = (data[:32], qtype)
    broken = write_gguf(tmp_path / "ideogram4-broken.gguf", tensors)
    message = r"\(ideogram4-broken\.gguf\).*'layers\.1\.feed_forward\.w3' is 32×256.*download or convert it again"
    with pytest.raises(ModelFileError, match=message):
        load_transformer(broken, device="cpu", dtype=torch.float32)
