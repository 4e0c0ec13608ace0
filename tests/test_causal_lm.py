"""Magic prompt causal LM: our text-encoder body + LM head vs transformers' Qwen3VLForConditionalGeneration
(fp32, logits within 1e-5 of the largest), incremental decoding with the KV cache, shared weights, head loading
and refusals, on the fp32 / bf16 / ComfyUI fp8_scaled / official fp8 / official nf4 / GGUF encoder formats."""

from __future__ import annotations

import json

import pytest
import torch
from fixtures_gguf import prefer, write_gguf_text_encoder
from fixtures_quant import nf4, nf4_config, official_fp8, write_comfy_text_encoder, write_quantised_text_encoder
from fixtures_text import tiny_qwen3_vl_lm, write_tokenizer
from safetensors.torch import save_file

from ideogram4_core.errors import ModelFileError
from ideogram4_core.models.causal_lm import CausalLM
from ideogram4_core.models.lm_head import HEAD_FOLDER, find_lm_head, load_lm_head
from ideogram4_core.models.text_encoder import TextEncoder, load_text_encoder

TOLERANCE = 1e-5
BF16_TOLERANCE = 0.08  # bf16 compute through 36 layers vs the fp32 oracle on the same (bf16) weights
TOKENS = torch.tensor([151644, 872, 198, 32, 2518, 8251, 389, 264, 3691, 13, 151645, 198, 151644, 77091, 198])


def _hf_original(folder, seed: int = 0):
    """The HF original layout (model.language_model.*, lm_head.weight, model.visual.*) and the oracle."""
    oracle = tiny_qwen3_vl_lm(seed)
    oracle.save_pretrained(folder)
    return oracle


def _oracle_logits(oracle, tokens: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return oracle(input_ids=tokens[None]).logits[0].float()


def _lm(path, head_path, dtype=torch.float32) -> CausalLM:
    body = load_text_encoder(path, device="cpu", dtype=dtype)
    cfg = body.config
    head = load_lm_head(head_path, vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, device="cpu", dtype=dtype)
    return CausalLM(body, head)


def _assert_close(ours: torch.Tensor, ref: torch.Tensor, tolerance: float = TOLERANCE) -> None:
    assert ours.shape == ref.shape
    assert (ours - ref).abs().max() <= tolerance * ref.abs().max()


def test_logits_match_transformers(tmp_path):
    oracle = _hf_original(tmp_path / "Qwen3-VL")
    lm = _lm(tmp_path / "Qwen3-VL", find_lm_head(tmp_path / "Qwen3-VL"))
    _assert_close(lm.forward(TOKENS, lm.new_cache(len(TOKENS)), all_logits=True), _oracle_logits(oracle, TOKENS))


def test_kv_cache_decoding_equals_full_forward(tmp_path):
    _hf_original(tmp_path / "Qwen3-VL", seed=1)
    lm = _lm(tmp_path / "Qwen3-VL", tmp_path / "Qwen3-VL")
    full = lm.forward(TOKENS, lm.new_cache(len(TOKENS)), all_logits=True)
    cache = lm.new_cache(len(TOKENS))
    prefill = 6
    steps = [lm.forward(TOKENS[:prefill], cache)]
    steps += [lm.forward(TOKENS[i : i + 1], cache) for i in range(prefill, len(TOKENS))]
    _assert_close(torch.stack(steps), full[prefill - 1 :])
    chunked = lm.new_cache(len(TOKENS))  # a multi-token chunk after cached positions (offset causal mask)
    lm.forward(TOKENS[:prefill], chunked)
    _assert_close(lm.forward(TOKENS[prefill:], chunked, all_logits=True), full[prefill:])
    with pytest.raises(ValueError, match="holds 15 positions"):
        lm.forward(TOKENS[:1], cache)


def test_body_is_shared_with_the_text_encoder(tmp_path):
    """The LM runs the text encoder's own tensors (same storage); the encoder's features are unchanged."""
    _hf_original(tmp_path / "Qwen3-VL", seed=2)
    write_tokenizer(tmp_path / "tokenizer")
    encoder = TextEncoder.load(tmp_path / "Qwen3-VL", tmp_path / "tokenizer", device="cpu", dtype=torch.float32)
    before = encoder.encode(["a red fox"])[0]
    head = load_lm_head(tmp_path / "Qwen3-VL", vocab_size=151936, hidden_size=32, device="cpu", dtype=torch.float32)
    lm = CausalLM(encoder.model, head)
    lm.forward(TOKENS, lm.new_cache(len(TOKENS)))
    body_ptrs = {p.data_ptr() for p in lm.body.parameters()}
    assert body_ptrs == {p.data_ptr() for p in encoder.model.parameters()}
    assert head.weight.data_ptr() not in body_ptrs
    assert torch.equal(encoder.encode(["a red fox"])[0], before)


def test_official_head_folder_and_single_file(tmp_path):
    oracle = _hf_original(tmp_path / "hf", seed=3)
    oracle.model.save_pretrained(tmp_path / "repo" / "text_encoder")  # head-less, like the official folder
    head = {"lm_head.weight": oracle.lm_head.weight.detach().clone()}
    folder = tmp_path / "repo" / HEAD_FOLDER
    folder.mkdir()
    save_file(head, folder / "diffusion_pytorch_model.safetensors")
    config = {"_class_name": "Ideogram4PromptEnhancerHead", "hidden_size": 32, "vocab_size": 151936}
    (folder / "config.json").write_text(json.dumps(config))
    assert find_lm_head(tmp_path / "repo" / "text_encoder") == folder
    assert find_lm_head(tmp_path / "repo") == folder
    expected = _oracle_logits(oracle, TOKENS)[-1]
    lm = _lm(tmp_path / "repo" / "text_encoder", folder)
    _assert_close(lm.forward(TOKENS, lm.new_cache(len(TOKENS))), expected)
    save_file(head, tmp_path / "head.safetensors")
    lm = _lm(tmp_path / "repo" / "text_encoder", tmp_path / "head.safetensors")
    _assert_close(lm.forward(TOKENS, lm.new_cache(len(TOKENS))), expected)


@pytest.mark.parametrize("fmt", ["bf16", "comfy-fp8-scaled", "official-fp8", "official-nf4", "gguf-q8_0"])
def test_encoder_formats(tmp_path, fmt):
    """Quantised bodies: parity with the oracle holding exactly the stored (dequantised) weights."""
    oracle = tiny_qwen3_vl_lm(seed=4)
    if fmt == "comfy-fp8-scaled":
        path = write_comfy_text_encoder(tmp_path / "qwen3vl_tiny_fp8.safetensors", oracle.model)
    elif fmt == "official-nf4":
        path = write_quantised_text_encoder(tmp_path / "text_encoder", oracle.model, nf4, nf4_config())
    elif fmt == "official-fp8":
        fp8 = {"ideogram_fp8_weight_only": True}
        path = write_quantised_text_encoder(tmp_path / "text_encoder", oracle.model, official_fp8, fp8)
    elif fmt == "gguf-q8_0":
        path = write_gguf_text_encoder(tmp_path / "Qwen3-VL-8B-Q8_0.gguf", oracle.model, prefer("Q8_0"))
    else:
        oracle.to(torch.bfloat16).model.save_pretrained(tmp_path / "text_encoder")
        oracle.float()
        path = tmp_path / "text_encoder"
    save_file({"lm_head.weight": oracle.lm_head.weight.detach().clone()}, tmp_path / "head.safetensors")
    dtype = torch.bfloat16 if fmt == "bf16" else torch.float32
    lm = _lm(path, tmp_path / "head.safetensors", dtype)
    ours = lm.forward(TOKENS, lm.new_cache(len(TOKENS)), all_logits=True)
    _assert_close(ours, _oracle_logits(oracle, TOKENS), BF16_TOLERANCE if fmt == "bf16" else TOLERANCE)


def test_head_refusals(tmp_path):
    oracle = _hf_original(tmp_path / "hf", seed=5)
    oracle.model.save_pretrained(tmp_path / "repo" / "text_encoder")
    with pytest.raises(ModelFileError, match=f"needs an LM head.*{HEAD_FOLDER}/ folder"):
        find_lm_head(tmp_path / "repo" / "text_encoder")
    lora = {"q_proj.lora_A.weight": torch.zeros(4, 32), "q_proj.lora_B.weight": torch.zeros(32, 4)}
    save_file(lora, tmp_path / "style_lora.safetensors")
    sizes = {"vocab_size": 151936, "hidden_size": 32, "device": "cpu", "dtype": torch.float32}
    with pytest.raises(ModelFileError, match=r"style_lora\.safetensors is a LoRA.*not an LM head"):
        load_lm_head(tmp_path / "style_lora.safetensors", **sizes)
    save_file({"lm_head.weight": torch.zeros(1000, 32)}, tmp_path / "small_head.safetensors")
    with pytest.raises(ModelFileError, match=r"small_head\.safetensors's lm_head\.weight is \(1000, 32\)"):
        load_lm_head(tmp_path / "small_head.safetensors", **sizes)
    with pytest.raises(ModelFileError, match=r"text_encoder is .*not an LM head"):
        load_lm_head(tmp_path / "repo" / "text_encoder", **sizes)
