"""Text encoder: tokenizer + template, tap features vs the diffusers oracle, loading layouts and refusals.

Feature tolerance (fp32): max |ours - oracle| ≤ 1e-4 · max |oracle| per caption, on the real (unpadded) rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from fixtures_text import tiny_qwen3_vl, write_text_encoder, write_tokenizer
from safetensors.torch import load_file, save_file

from ideogram4_core.errors import CaptionError, ModelFileError
from ideogram4_core.models.text_encoder import TAP_LAYERS, TextEncoder, load_text_encoder, rope_cos_sin
from ideogram4_core.models.tokenizer import MAX_CAPTION_TOKENS, CaptionTokenizer, render_caption

JSON_CAPTION = json.dumps(
    {
        "high_level_description": "A poster for a jazz night.",
        "compositional_deconstruction": {
            "background": "deep blue paper texture",
            "elements": [{"type": "text", "bbox": [100, 120, 220, 880], "text": "JAZZ", "desc": "bold serif"}],
        },
    },
    ensure_ascii=False,
)
NON_ASCII = "Café – 東京 «naïve» ünïcödé 🎷"
MAX_SEQ = 300  # oracle padding length; small to keep it fast
REL_TOL = 1e-4


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> SimpleNamespace:
    """A tiny official-layout repo (text_encoder/ + tokenizer/), our encoder on it, and the oracle."""
    root = tmp_path_factory.mktemp("ideogram4")
    model = tiny_qwen3_vl()
    write_text_encoder(model, root / "text_encoder")
    write_tokenizer(root / "tokenizer")
    ours = TextEncoder.load(root / "text_encoder", device="cpu", dtype=torch.float32)
    return SimpleNamespace(root=root, model=model, ours=ours, oracle=_Oracle(model, root / "tokenizer"))


class _Oracle:
    """diffusers' Ideogram4Pipeline.encode_prompt on a stand-in pipeline holding only the text parts."""

    def __init__(self, model, tokenizer_folder: Path) -> None:
        from diffusers.pipelines.ideogram4.pipeline_ideogram4 import Ideogram4Pipeline
        from transformers import AutoTokenizer

        self._encode_prompt = Ideogram4Pipeline.encode_prompt
        self.pipe = SimpleNamespace(
            tokenizer=AutoTokenizer.from_pretrained(tokenizer_folder),
            text_encoder=model,
            _get_text_encoder_hidden_states=Ideogram4Pipeline._get_text_encoder_hidden_states,
            _prepare_ids=Ideogram4Pipeline._prepare_ids,
        )

    def token_ids(self, caption: str) -> list[int]:
        messages = [{"role": "user", "content": [{"type": "text", "text": caption}]}]
        text = self.pipe.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        assert text == render_caption(caption)
        return self.pipe.tokenizer(text, add_special_tokens=False)["input_ids"]

    def features(self, captions: list[str]) -> list[torch.Tensor]:
        with torch.inference_mode():
            embeds = self._encode_prompt(self.pipe, captions, 1, 1, MAX_SEQ, torch.device("cpu"))[0]
        lengths = [len(self.token_ids(c)) for c in captions]
        return [embeds[b, MAX_SEQ - n : MAX_SEQ] for b, n in enumerate(lengths)]


def _assert_close(ours: list[torch.Tensor], ref: list[torch.Tensor], rel: float = REL_TOL) -> None:
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref, strict=True):
        assert a.dtype == torch.float32 and a.shape == b.shape
        assert (a - b).abs().max() <= rel * b.abs().max()


def test_token_ids_match_oracle_tokenizer(repo):
    for caption in (JSON_CAPTION, NON_ASCII, "  spaces\tand\nnewlines  \n\n", "it's 2048 px"):
        ids = repo.ours.tokenizer.token_ids(caption)
        assert ids == repo.oracle.token_ids(caption)
        assert ids[:3] == [151644, 872, 198]  # <|im_start|> user \n
        assert ids[-5:] == [151645, 198, 151644, 77091, 198]  # <|im_end|> \n <|im_start|> assistant \n
        assert repo.ours.count_tokens(caption) == len(ids)


@pytest.mark.parametrize(
    "captions", [[JSON_CAPTION], [NON_ASCII], [JSON_CAPTION, NON_ASCII]], ids=["json", "non_ascii", "batch"]
)
def test_features_match_oracle(repo, captions):
    ours = repo.ours.encode(captions)
    assert all(f.shape[1] == repo.ours.feature_dim == 32 * len(TAP_LAYERS) for f in ours)
    _assert_close(ours, repo.oracle.features(captions))


def test_text_rope_equals_interleaved_mrope():
    from transformers.models.qwen3_vl.configuration_qwen3_vl import Qwen3VLTextConfig
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextRotaryEmbedding

    config = Qwen3VLTextConfig(
        head_dim=128,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 5e6,
            "mrope_section": [24, 20, 20],
            "mrope_interleaved": True,
        },
    )
    positions = torch.arange(MAX_CAPTION_TOKENS)[None, None].expand(3, 1, -1)
    cos_ref, sin_ref = Qwen3VLTextRotaryEmbedding(config)(torch.zeros(1, dtype=torch.float32), positions)
    cos, sin = rope_cos_sin(MAX_CAPTION_TOKENS, 128, 5e6, torch.device("cpu"))
    torch.testing.assert_close(cos, cos_ref[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(sin, sin_ref[0], rtol=0, atol=1e-6)


def test_builds_only_tapped_layers_from_sharded_folder(tmp_path, repo):
    model = tiny_qwen3_vl(num_layers=38, seed=1)
    folder = write_text_encoder(model, tmp_path / "text_encoder", max_shard_size="4MB")
    assert (folder / "model.safetensors.index.json").is_file()
    encoder = load_text_encoder(folder, device="cpu", dtype=torch.float32)
    assert len(encoder.layers) == max(TAP_LAYERS) + 1
    assert not any(name.startswith(("norm", "visual", "lm_head")) for name in encoder.state_dict())
    oracle = _Oracle(model, repo.root / "tokenizer")
    ours = TextEncoder(encoder, repo.ours.tokenizer).encode([JSON_CAPTION])
    _assert_close(ours, oracle.features([JSON_CAPTION]))


def test_hf_original_and_comfyui_layouts(tmp_path, repo):
    official = load_file(repo.root / "text_encoder" / "model.safetensors")
    hf = tmp_path / "hf"
    hf.mkdir()
    shutil.copyfile(repo.root / "text_encoder" / "config.json", hf / "config.json")
    save_file(
        {f"model.{k}": v for k, v in official.items()} | {"lm_head.weight": torch.zeros(8, 32)}, hf / "m.safetensors"
    )
    comfy = tmp_path / "qwen3vl_tiny.safetensors"
    text = {f"model.{k.removeprefix('language_model.')}": v for k, v in official.items() if k.startswith("language_")}
    save_file(text, comfy)
    expected = repo.ours.encode([NON_ASCII])
    for path in (hf, comfy):
        encoder = TextEncoder(load_text_encoder(path, device="cpu", dtype=torch.float32), repo.ours.tokenizer)
        torch.testing.assert_close(encoder.encode([NON_ASCII]), expected, rtol=0, atol=0)


def test_bf16_close_to_fp32_oracle(repo):
    encoder = TextEncoder(load_text_encoder(repo.root, device="cpu", dtype=torch.bfloat16), repo.ours.tokenizer)
    assert encoder.model.embed_tokens.weight.dtype == torch.bfloat16
    _assert_close(encoder.encode([JSON_CAPTION]), repo.oracle.features([JSON_CAPTION]), rel=5e-2)


def test_caption_refusals(repo):
    with pytest.raises(CaptionError, match="empty"):
        repo.ours.encode([JSON_CAPTION, " \n\t "])
    with pytest.raises(CaptionError, match="empty"):
        repo.ours.encode([""])
    long_caption = "the quick brown fox " * 520
    count = repo.ours.count_tokens(long_caption)
    assert count > MAX_CAPTION_TOKENS
    with pytest.raises(CaptionError, match=f"{count} tokens"):
        repo.ours.encode([long_caption])


def test_tokenizer_json_folder_and_errors(tmp_path, repo):
    repo.oracle.pipe.tokenizer.save_pretrained(tmp_path / "fast")
    assert (tmp_path / "fast" / "tokenizer.json").is_file()
    from_json = CaptionTokenizer.from_folder(tmp_path / "fast")
    assert from_json.token_ids(NON_ASCII) == repo.ours.tokenizer.token_ids(NON_ASCII)
    with pytest.raises(ModelFileError, match="No tokenizer"):
        CaptionTokenizer.from_folder(tmp_path)


def _folder(tmp_path: Path, config: dict | None, tensors: dict[str, torch.Tensor]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    save_file(tensors, tmp_path / "model.safetensors")
    return tmp_path


def test_wrong_folders(tmp_path, repo):
    weights = {"decoder.conv_in.weight": torch.zeros(4, 4)}
    cases = {
        "diffusers AutoencoderKLFlux2": _folder(tmp_path / "vae", {"_class_name": "AutoencoderKLFlux2"}, weights),
        r"qwen2 model \(Qwen2ForCausalLM\)": _folder(
            tmp_path / "qwen2", {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}, weights
        ),
        "tensors named like 'decoder.conv_in.weight'": tmp_path / "vae" / "model.safetensors",
        "no config.json": _folder(tmp_path / "bare", None, weights),
    }
    for message, path in cases.items():
        with pytest.raises(ModelFileError, match=message):
            load_text_encoder(path, device="cpu", dtype=torch.float32)

    config = json.loads((repo.root / "text_encoder" / "config.json").read_text())
    config["text_config"]["num_hidden_layers"] = 35
    short = _folder(tmp_path / "short", config, load_file(repo.root / "text_encoder" / "model.safetensors"))
    with pytest.raises(ModelFileError, match="has 35 decoder layers"):
        load_text_encoder(short, device="cpu", dtype=torch.float32)


def test_quantised_weights_refused(tmp_path, repo):
    tensors = load_file(repo.root / "text_encoder" / "model.safetensors")
    tensors["language_model.layers.0.mlp.up_proj.weight"] = tensors["language_model.layers.0.mlp.up_proj.weight"].to(
        torch.float8_e4m3fn
    )
    config = json.loads((repo.root / "text_encoder" / "config.json").read_text())
    with pytest.raises(ModelFileError, match="quantised"):
        load_text_encoder(_folder(tmp_path / "fp8", config, tensors), device="cpu", dtype=torch.float32)
