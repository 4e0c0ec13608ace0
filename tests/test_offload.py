"""Block streaming: same outputs as a resident model, blocks on the device only while they run, model restored.

On CPU the copies are no-ops in cost but the hooks, ordering and restoring are the same; streaming to the
`meta` device proves every tensor a block uses was moved (a forgotten one would be a cpu/meta mismatch).
With CUDA the same tests also run on the GPU (prefetch on a side stream).
"""

from __future__ import annotations

import pytest
import torch
from fixtures_model import TINY_DIT, randomized

from ideogram4_core.models.offload import BlockStreamer
from ideogram4_core.models.text_encoder import Qwen3TapEncoder, TextEncoderConfig
from ideogram4_core.models.transformer import Ideogram4Transformer, TransformerConfig

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
GRID = (4, 4)


def tiny_dit(layers: int = 3) -> Ideogram4Transformer:
    return randomized(Ideogram4Transformer(TransformerConfig.from_dict({**TINY_DIT, "num_layers": layers})), 1)


def run(model: Ideogram4Transformer, device: str, passes: int = 2) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, GRID[0] * GRID[1], 128, generator=gen).to(device)
    text = torch.randn(2, 5, model.config.llm_features_dim, generator=gen).to(device)
    rope = model.rotary(5, GRID, torch.device(device))
    with torch.inference_mode():
        return [model(x, torch.tensor([0.1 * (i + 1)] * 2, device=device), rope, text).cpu() for i in range(passes)]


def originals(model: torch.nn.Module) -> dict[str, int]:
    return {name: t.data_ptr() for name, t in model.state_dict(keep_vars=True).items()}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("prefetch", [True, False])
def test_streamed_outputs_equal_resident(device, prefetch):
    model = tiny_dit()
    expected = run(tiny_dit().to(device), device)
    before = originals(model)
    with BlockStreamer(model, model.layers, device, prefetch=prefetch) as streamer:
        got = run(model, device)
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))
    assert streamer.transfers == 2 * len(model.layers) + (1 if prefetch and device == "cuda" else 0)  # + next pass
    assert originals(model) == before and {t.device.type for t in model.state_dict().values()} == {"cpu"}
    assert all(not b._forward_pre_hooks and not b._forward_hooks for b in model.layers)


@pytest.mark.parametrize("device", DEVICES)
def test_only_the_running_block_and_the_next_are_on_the_device(device):
    model = tiny_dit(layers=4)
    seen: list[tuple[int, list[int], str]] = []
    with BlockStreamer(model, model.layers, device) as streamer:
        for i, block in enumerate(model.layers):
            block.register_forward_pre_hook(
                lambda m, _, i=i: seen.append((i, streamer.resident_blocks(), m.ffn_norm1.weight.device.type))
            )
        run(model, device, passes=1)
        assert model.input_proj.weight.device.type == torch.device(device).type  # non-block parts stay put
    prefetched = device == "cuda"
    assert [(i, resident) for i, resident, _ in seen] == [
        (i, sorted({i, (i + 1) % 4}) if prefetched else [i]) for i in range(4)
    ]
    assert {where for *_, where in seen} == {torch.device(device).type}
    assert streamer.bytes_per_pass == sum(t.nbytes for b in model.layers for t in b.state_dict().values())


def test_every_tensor_a_block_uses_is_moved():
    """Streaming to `meta`: a block using a tensor left on the CPU would fail with a device mismatch."""
    model = tiny_dit()
    with BlockStreamer(model, model.layers, "meta"):
        x = torch.randn(1, 16, 128, device="meta")
        rope = tuple(r.to("meta") for r in model.rotary(0, GRID, torch.device("cpu")))
        with torch.inference_mode():
            out = model(x, torch.tensor([0.5], device="meta"), rope)
    assert out.shape == (1, 16, 128) and out.device.type == "meta"
    assert {t.device.type for t in model.state_dict().values()} == {"cpu"}


def test_text_encoder_layers_stream_too():
    cfg = TextEncoderConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_layers=36, num_heads=2, num_kv_heads=1,
        head_dim=16,
    )  # fmt: skip
    model = randomized(Qwen3TapEncoder(cfg), 2)
    ids = torch.arange(10)
    with torch.inference_mode():
        expected = model(ids)
        with BlockStreamer(model, model.layers, "cpu") as streamer:
            got = model(ids)
    assert torch.equal(expected, got) and streamer.transfers == 36
