"""One transformer forward against the diffusers reference module, in fp32 on CPU."""

import pytest
import torch
from diffusers import Ideogram4Transformer2DModel
from diffusers.models.transformers.transformer_ideogram4 import (
    IMAGE_POSITION_OFFSET,
    LLM_TOKEN_INDICATOR,
    OUTPUT_IMAGE_INDICATOR,
)
from fixtures_model import TINY_DIT, randomized
from numerics import assert_relative_close

from ideogram4_core.errors import ModelFileError
from ideogram4_core.weights.transformer_weights import infer_config, load_transformer, to_original_names

TINY = TINY_DIT


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    torch.manual_seed(0)
    model = randomized(Ideogram4Transformer2DModel(**TINY), seed=1).eval()
    folder = tmp_path_factory.mktemp("dit") / "transformer"
    model.save_pretrained(folder)
    return model, folder


def reference_velocity(model, x, t, text, grid):
    """Run the reference on the packed `[text][image]` layout the pipeline builds (no padding)."""
    b, n, _ = x.shape
    length = 0 if text is None else text.shape[1]
    gh, gw = grid
    rows = torch.arange(gh).repeat_interleave(gw)
    cols = torch.arange(gw).repeat(gh)
    image_pos = torch.stack([torch.zeros_like(rows), rows, cols], 1) + IMAGE_POSITION_OFFSET
    text_pos = torch.arange(length).unsqueeze(1).expand(-1, 3)
    pos = torch.cat([text_pos, image_pos]).expand(b, -1, -1)
    indicator = torch.tensor([LLM_TOKEN_INDICATOR] * length + [OUTPUT_IMAGE_INDICATOR] * n).expand(b, -1)
    feats = torch.zeros(b, length + n, TINY["llm_features_dim"])
    if text is not None:
        feats[:, :length] = text
    hidden = torch.cat([torch.zeros(b, length, 128), x], 1)
    out = model(hidden, t, feats, pos, torch.ones(b, length + n, dtype=torch.long), indicator, return_dict=False)[0]
    return out[:, length:]


@pytest.mark.parametrize("with_text", [True, False])
def test_forward_matches_reference(reference, with_text):
    model, folder = reference
    ours = load_transformer(folder, device="cpu", dtype=torch.float32)
    gen = torch.Generator().manual_seed(3)
    grid = (3, 5)
    x = torch.randn(2, 15, 128, generator=gen)
    t = torch.tensor([0.3, 0.8])
    text = torch.randn(2, 7, TINY["llm_features_dim"], generator=gen) * 3 if with_text else None
    with torch.no_grad():
        expected = reference_velocity(model, x, t, text, grid)
        got = ours(x, t, ours.rotary(0 if text is None else 7, grid, x.device), text)
    assert_relative_close(got, expected, tol=1e-5)


def test_padded_batch_equals_single_samples(reference):
    _, folder = reference
    ours = load_transformer(folder, device="cpu", dtype=torch.float32)
    gen = torch.Generator().manual_seed(4)
    grid = (2, 4)
    x = torch.randn(2, 8, 128, generator=gen)
    t = torch.tensor([0.5, 0.5])
    long_text = torch.randn(1, 9, TINY["llm_features_dim"], generator=gen)
    short_text = torch.randn(1, 4, TINY["llm_features_dim"], generator=gen)
    padded = torch.zeros(2, 9, TINY["llm_features_dim"])
    padded[0], padded[1, :4] = long_text[0], short_text[0]
    mask = torch.zeros(2, 9, dtype=torch.bool)
    mask[0], mask[1, :4] = True, True
    with torch.no_grad():
        batched = ours(x, t, ours.rotary(9, grid, x.device), padded, mask)
        first = ours(x[:1], t[:1], ours.rotary(9, grid, x.device), long_text)
        second = ours(x[1:], t[1:], ours.rotary(4, grid, x.device), short_text)
    assert_relative_close(batched, torch.cat([first, second]), tol=1e-5)


def test_single_file_with_original_names_infers_config(reference, tmp_path):
    from safetensors.torch import save_file

    model, _ = reference
    original = to_original_names(model.state_dict())
    path = tmp_path / "ideogram4_bf16.safetensors"
    save_file({f"model.diffusion_model.{k}": v.contiguous() for k, v in original.items()}, path)
    # Without a config the rotary sections are the released ones, which need 256-wide heads.
    odd = load_transformer(path, device="cpu", dtype=torch.float32)
    with pytest.raises(ModelFileError, match="need attention heads of at least 144 channels, but this model has 64"):
        odd.rotary(4, (2, 2), torch.device("cpu"))
    shapes = {k: tuple(v.shape) for k, v in original.items()}
    shapes["layers.0.attention.norm_q.weight"] = (256,)
    shapes["input_proj.weight"] = (512, 128)
    cfg = infer_config(shapes)
    assert (cfg.num_layers, cfg.hidden_size, cfg.num_attention_heads) == (TINY["num_layers"], 512, 2)
    assert cfg.llm_features_dim == TINY["llm_features_dim"] and cfg.mrope_section == (24, 20, 20)
