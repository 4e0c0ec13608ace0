"""Qwen3-VL vision tower and image preprocessing vs transformers (fp32, within 1e-5 of the largest value): image
features and deepstack features, full logits with an image in the prompt (MRoPE + deepstack), KV-cache decoding
after an image prefill, preprocessing vs `Qwen2VLImageProcessorPil` (the slow numpy/PIL processor), the
quantised towers, and the refusals when the tower is not there."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fixtures_quant import nf4, nf4_config, official_fp8, write_comfy_text_encoder, write_quantised_text_encoder
from fixtures_text import tiny_qwen3_vl, write_hf_original
from PIL import Image
from safetensors.torch import load_file, save_file

from ideogram4_core.errors import Ideogram4Error, ModelFileError
from ideogram4_core.images import pil_to_unit
from ideogram4_core.models.causal_lm import CausalLM
from ideogram4_core.models.lm_head import load_lm_head
from ideogram4_core.models.text_encoder import load_text_encoder
from ideogram4_core.models.tokenizer import VISION_TOKEN_IDS
from ideogram4_core.models.vision import load_vision_encoder
from ideogram4_core.models.vision_input import MAX_PIXELS, ImageProcessing, image_patches

TOLERANCE = 1e-5
IMAGE_PAD = VISION_TOKEN_IDS["<|image_pad|>"]


def _picture(height: int, width: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _assert_close(ours: torch.Tensor, ref: torch.Tensor) -> None:
    assert ours.shape == ref.shape
    assert (ours - ref).abs().max() <= TOLERANCE * ref.abs().max()


def _features_match(encoder, oracle, image: torch.Tensor) -> None:
    """Our features of `image` equal `oracle.get_image_features` on the same patches."""
    patches, grid = image_patches(image, encoder.processing)
    ours = encoder.encode(image)
    with torch.inference_mode():
        ref = oracle.get_image_features(patches, torch.tensor([[1, *grid]]))
    assert ours.grid == (grid[0] // 2, grid[1] // 2)
    _assert_close(ours.embeds, ref.pooler_output[0])
    assert len(ours.deepstack) == len(ref.deepstack_features) == 2
    for mine, theirs in zip(ours.deepstack, ref.deepstack_features, strict=True):
        _assert_close(mine, theirs[0])


@pytest.mark.parametrize("size", [(37, 53), (8, 8), (64, 16), (31, 31)])
def test_image_features_match_transformers(tmp_path, size):
    """Grids smaller and larger than the 4×4 learned position grid (interpolated both ways)."""
    oracle = write_hf_original(tmp_path / "Qwen3-VL", seed=1)
    encoder = load_vision_encoder(tmp_path / "Qwen3-VL", device="cpu", dtype=torch.float32)
    _features_match(encoder, oracle.model, pil_to_unit(_picture(*size)))


def _image_prompt(tokens: int) -> torch.Tensor:
    before = [151644, 872, 198, VISION_TOKEN_IDS["<|vision_start|>"]]
    after = [VISION_TOKEN_IDS["<|vision_end|>"], 32, 2518, 8251, 151645, 198, 151644, 77091, 198, 40, 1079, 264]
    return torch.tensor(before + [IMAGE_PAD] * tokens + after)


def test_logits_with_an_image_match_transformers_and_decoding_continues(tmp_path):
    folder = tmp_path / "Qwen3-VL"
    oracle = write_hf_original(folder, seed=2)
    encoder = load_vision_encoder(folder, device="cpu", dtype=torch.float32)
    body = load_text_encoder(folder, device="cpu", dtype=torch.float32)
    head = load_lm_head(folder, vocab_size=151936, hidden_size=32, device="cpu", dtype=torch.float32)
    lm = CausalLM(body, head)
    image = pil_to_unit(_picture(30, 45))  # resized to 32×48: a 4×6 token grid, wider than tall
    features = encoder.encode(image)
    patches, grid = image_patches(image, encoder.processing)
    ids = _image_prompt(features.tokens)
    with torch.inference_mode():
        ref = oracle(
            input_ids=ids[None], pixel_values=patches, image_grid_thw=torch.tensor([[1, *grid]]),
            mm_token_type_ids=(ids == IMAGE_PAD).int()[None],
        ).logits[0]  # fmt: skip
    _assert_close(lm.forward(ids, lm.new_cache(len(ids)), all_logits=True, image=features), ref)

    prefill = len(ids) - 6
    cache = lm.new_cache(len(ids))
    steps = [lm.forward(ids[:prefill], cache, image=features)]
    steps += [lm.forward(ids[i : i + 1], cache) for i in range(prefill, len(ids))]
    _assert_close(torch.stack(steps), ref[prefill - 1 :])
    assert cache.rope_delta == max(features.grid) - features.tokens  # the image spans 6 positions, 24 tokens
    with pytest.raises(ValueError, match="first chunk"):
        lm.forward(ids[:1], cache, image=features)
    with pytest.raises(ValueError, match="holds 0 image tokens"):
        lm.forward(ids[:3], lm.new_cache(8), image=features)


@pytest.mark.parametrize(
    ("size", "pixels"),
    [
        ((37, 53), (256 * 256, MAX_PIXELS)),  # brought up to min_pixels
        ((480, 640), (256 * 256, 300 * 300)),  # brought down to max_pixels
        ((512, 512), (256 * 256, MAX_PIXELS)),  # already multiples of 32
        ((40, 900), (32 * 32, 200 * 200)),  # a long strip
        ((333, 101), (56 * 56, 128 * 128)),
    ],
)
def test_preprocessing_matches_the_qwen2vl_image_processor(size, pixels):
    from transformers import Qwen2VLImageProcessorPil

    settings = ImageProcessing(min_pixels=pixels[0], max_pixels=pixels[1])
    processor = Qwen2VLImageProcessorPil(
        patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3,
        size={"shortest_edge": pixels[0], "longest_edge": pixels[1]},
    )  # fmt: skip
    picture = _picture(*size, seed=3)
    ref = processor(images=[picture], return_tensors="pt")
    patches, grid = image_patches(pil_to_unit(picture), settings)
    assert [1, *grid] == ref["image_grid_thw"][0].tolist()
    assert patches.shape == ref["pixel_values"].shape
    assert (patches - ref["pixel_values"]).abs().max() <= 1e-6


def test_extreme_aspect_is_refused():
    with pytest.raises(Ideogram4Error, match=r"4020×20, more than 200:1; crop it"):
        image_patches(torch.zeros(20, 4020, 3), ImageProcessing())


def test_preprocessor_config_is_read_and_capped(tmp_path):
    """Qwen3-VL-8B's own file (pixel range 256²…4096²); the ceiling stays MAX_PIXELS; another geometry is refused."""
    stated = {"size": {"longest_edge": 16777216, "shortest_edge": 65536}, "patch_size": 16, "temporal_patch_size": 2,
              "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}  # fmt: skip
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(stated))
    settings = ImageProcessing.for_model(tmp_path, 16, 2, 2)
    assert (settings.min_pixels, settings.max_pixels, settings.factor) == (65536, MAX_PIXELS, 32)
    with pytest.raises(ModelFileError, match=r"patch_size 16, but the vision tower's config\.json says 14"):
        ImageProcessing.for_model(tmp_path, 14, 2, 2)
    assert ImageProcessing.for_model(tmp_path / "text_encoder", 16, 2, 2) == settings  # the parent's file
    assert ImageProcessing.for_model(tmp_path / "a" / "b", 4, 2, 2) == ImageProcessing(patch_size=4)  # none


@pytest.mark.parametrize("fmt", ["official-fp8", "official-nf4"])
def test_quantised_towers(tmp_path, fmt):
    """The official text_encoder/ with the vision tower's Linears quantised too; parity with the oracle holding
    exactly the stored (dequantised) weights."""
    oracle = tiny_qwen3_vl(seed=4)
    if fmt == "official-fp8":
        config, quantise = {"ideogram_fp8_weight_only": True}, official_fp8
    else:
        config, quantise = nf4_config(), nf4
    folder = write_quantised_text_encoder(tmp_path / "text_encoder", oracle, quantise, config, vision=True)
    encoder = load_vision_encoder(folder, device="cpu", dtype=torch.float32)
    assert type(encoder.tower.blocks[0].attn.qkv).__name__ in ("Fp8Linear", "Nf4Linear")
    _features_match(encoder, oracle.float(), pil_to_unit(_picture(40, 24)))


def test_missing_vision_tower_names_the_files(tmp_path):
    oracle = tiny_qwen3_vl(seed=5)
    comfy = write_comfy_text_encoder(tmp_path / "qwen3vl_tiny_fp8.safetensors", oracle)
    with pytest.raises(ModelFileError, match=r"single file.*official text_encoder/.*Qwen3-VL-8B-Instruct"):
        load_vision_encoder(comfy, device="cpu", dtype=torch.float32)
    folder = tmp_path / "text_encoder"
    oracle.save_pretrained(folder)
    tensors = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in tensors.items() if not k.startswith("visual.")}, folder / "model.safetensors")
    with pytest.raises(ModelFileError, match=r"no visual\.\* tensors.*Hugging Face Qwen3-VL-8B-Instruct"):
        load_vision_encoder(tmp_path, device="cpu", dtype=torch.float32)  # a repo root means its text_encoder/
