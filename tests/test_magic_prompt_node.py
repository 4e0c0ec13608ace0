"""IG4_MagicPrompt and POST /ideogram4/magic_prompt with the ComfyUI stand-ins: the loaded text encoder's own
module is used (its patcher is the one loaded), per-token progress, Cancel, the route's replies, and a reference
IMAGE (the vision tower read once and loaded with the encoder; refused with a text-only encoder), also sent to the
route as a data URL."""

from __future__ import annotations

import base64
import importlib
import types
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import torch
from comfy_stub import FakeComfy, comfy_api_modules, forget_pack, import_pack
from fixtures_text import one_thread, write_encoder_with_head, write_hf_original  # noqa: F401 (one_thread: a fixture)
from PIL import Image

from ideogram4_core.caption import verify_text
from ideogram4_core.caption.magic_decode import Sampling
from ideogram4_core.images import pil_to_unit

BUDGET = 160


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """models/text_encoders/ with a ComfyUI-style single file and prompt_enhancer_head/ next to it, and a Hugging
    Face original folder (vision tower and LM head inside)."""
    root = tmp_path_factory.mktemp("models")
    write_encoder_with_head(root / "text_encoders", "qwen3vl_tiny.safetensors")
    write_hf_original(root / "text_encoders" / "Qwen3-VL-tiny", seed=6)
    return root


@pytest.fixture
def fake(models: Path) -> FakeComfy:
    return FakeComfy({"text_encoders": [models / "text_encoders"]})


@pytest.fixture
def pack(fake: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    import_pack(monkeypatch, comfy_api_modules() | fake.modules())
    loaders = importlib.import_module("ig4pack.nodes.loaders")
    yield types.SimpleNamespace(loaders=loaders, magic=importlib.import_module("ig4pack.nodes.magic_prompt"))
    forget_pack()


def _encoder(pack, name: str = "qwen3vl_tiny.safetensors"):
    out = pack.loaders.IG4_TextEncoderLoader.execute(text_encoder=name, tokenizer="auto")
    return out.values[0]


def _run(pack, encoder, **overrides):
    settings = {"idea": 'a "SALE" banner', "width": 1024, "height": 512, "seed": 1, "temperature": 0.7}
    return pack.magic.IG4_MagicPrompt.execute(encoder, max_new_tokens=BUDGET, **(settings | overrides))


def test_schema(pack):
    schema = pack.magic.IG4_MagicPrompt.define_schema()
    assert (schema.node_id, schema.display_name) == ("IG4_MagicPrompt", "Ideogram 4 · Magic Prompt")
    ids = [i.id for i in schema.inputs]
    assert ids == [
        "text_encoder",
        "idea",
        "width",
        "height",
        "seed",
        "temperature",
        "max_new_tokens",
        "image",
        "caption",
    ]
    assert [i.kind for i in schema.inputs[-2:]] == ["IMAGE", "STRING"] and all(i.optional for i in schema.inputs[-2:])


def test_writes_a_valid_caption_with_the_loaded_encoder(pack, fake):
    encoder = _encoder(pack)
    out = _run(pack, encoder)
    caption = out.values[0]
    assert verify_text(caption).valid
    loaded = fake.loaded[-1][0]
    assert loaded[0] is encoder.patcher and loaded[1].model.weight.shape == (151936, 32)
    assert [done for done, _, _ in fake.progress] == list(range(1, len(fake.progress) + 1))
    assert all(total == BUDGET for _, total, _ in fake.progress) and "tokens" in out.ui["text"][0]
    revised = _run(pack, encoder, idea="make it blue", caption=caption).values[0]
    assert verify_text(revised).valid
    with pytest.raises(Exception, match=r"qwen3vl_tiny\.safetensors is a single file.*vision tower"):
        _run(pack, encoder, image=torch.zeros(1, 8, 8, 3))


def test_cancel_stops_between_tokens(pack, fake):
    encoder = _encoder(pack)

    class CancelAfterThree(list):
        def append(self, item) -> None:
            super().append(item)
            fake.interrupted = len(self) >= 3

    fake.progress = CancelAfterThree()
    interrupt = importlib.import_module("comfy.model_management").InterruptProcessingException
    with pytest.raises(interrupt):
        _run(pack, encoder)
    assert len(fake.progress) == 3


def test_route(pack, fake):
    pack.magic._latest.clear()
    body = {"idea": "a kite", "width": 768, "height": 1024, "seed": 2, "caption": None}
    status, payload = pack.magic.magic_request(body)
    assert status == 409 and "Text Encoder Loader" in payload["error"]
    _encoder(pack)
    status, payload = pack.magic.magic_request(body)
    assert status == 200 and verify_text(payload["caption"]).valid
    assert pack.magic.magic_request([1])[0] == 400
    status, payload = pack.magic.magic_request(body | {"width": "wide"})
    assert status == 400 and "integers" in payload["error"]


def test_route_with_a_reference_image(pack):
    """A PNG data URL (empty idea) gives the caption the engine gives for the same picture decoded by PIL; a bad
    URL, an image with a caption to revise and a text-only encoder are 400s with the engine's message."""
    pixels = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    buffer = BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    body = {"idea": "", "width": 768, "height": 1024, "seed": 2, "caption": None, "image": url}
    _encoder(pack)  # a single file: no vision tower
    status, payload = pack.magic.magic_request(body)
    assert status == 400 and "vision tower" in payload["error"] and "single file" in payload["error"]
    bad = {"data:image/gif;base64,R0lGOD": "base64 data URL of a PNG, JPEG or WebP", 7: '"image" a string or null'}
    for image, message in bad.items():
        status, payload = pack.magic.magic_request(body | {"image": image})
        assert status == 400 and message in payload["error"], payload
    encoder = _encoder(pack, "Qwen3-VL-tiny/")
    status, payload = pack.magic.magic_request(body)
    assert status == 200 and verify_text(payload["caption"]).valid
    decoded = pil_to_unit(Image.open(BytesIO(buffer.getvalue())))[None]
    direct = pack.magic.write_caption(encoder, "", 768, 1024, Sampling(seed=2), image=decoded)
    assert payload["caption"] == direct.caption
    status, payload = pack.magic.magic_request(body | {"caption": payload["caption"]})
    assert status == 400 and "reference image and a caption to revise cannot be combined" in payload["error"]


def test_missing_head_names_where_it_goes(pack, models, tmp_path):
    encoder = _encoder(pack)
    moved = tmp_path / "elsewhere.safetensors"
    moved.write_bytes((models / "text_encoders" / "qwen3vl_tiny.safetensors").read_bytes())
    lonely = type(encoder)(encoder.patcher, encoder.tokenizer, encoder.description, encoder.dtype, moved)
    with pytest.raises(Exception, match=r"needs an LM head.*prompt_enhancer_head"):
        _run(pack, lonely)


def test_reference_image(pack, fake):
    encoder = _encoder(pack, "Qwen3-VL-tiny/")
    images = torch.rand(2, 40, 56, 3, generator=torch.Generator().manual_seed(0))
    caption = _run(pack, encoder, idea="same layout, for a bakery", image=images).values[0]
    assert verify_text(caption).valid
    first = fake.loaded[-1][0]
    assert first[0] is encoder.patcher and len(first) == 3  # encoder, head, vision tower
    assert _run(pack, encoder, idea="same layout, for a bakery", image=images[:1]).values[0] == caption  # first only
    assert fake.loaded[-1][0][2] is first[2]  # the tower is read once
    with pytest.raises(Exception, match=r"IMAGE batch \(B, H, W, C\)"):
        _run(pack, encoder, image=torch.zeros(8, 8, 3))
