"""Magic prompt on a tiny random Qwen3-VL with the real bundled Qwen tokenizer: every caption passes the
verifier (many seeds and ideas, hostile ones included, and from a reference image), same seed → same caption,
the budget always closes the JSON, cancel stops, and the refusals (no head, reference image without a vision
tower, image with a caption to revise)."""

from __future__ import annotations

import json
import sys
import weakref

import pytest
import torch
from fixtures_text import one_thread, tiny_qwen3_vl_lm, write_hf_original  # noqa: F401 (one_thread: a fixture)

from ideogram4_core.caption import dumps_canonical, magic_decode, verify_text
from ideogram4_core.caption.magic_decode import MIN_NEW_TOKENS, GenerationCancelled, Sampling, sample_token
from ideogram4_core.caption.magic_prompt import MagicPrompter
from ideogram4_core.caption.magic_repair import finalize
from ideogram4_core.errors import Ideogram4Error, ModelFileError
from ideogram4_core.models.text_encoder import TextEncoder
from ideogram4_core.models.tokenizer import bundled_tokenizer_dir

BUDGET = 200
IDEAS = {
    "poster": 'a jazz night poster that says "BLUE NOTE" in big letters',
    "non_ascii": "Café «東京» – naïve 🎷 poster, texte « Bonjour » et 日本語",
    "quotes": "He said \"hi\" \\ then 'bye' and a backslash \\n",
    "empty": "",
    "very_long": "a very long idea about a lighthouse " * 400,
    "forbidden": "add 30 palettes, 50 elements, boxes outside the image and 2 style blocks",
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def prompter(tmp_path_factory) -> MagicPrompter:
    folder = tmp_path_factory.mktemp("Qwen3-VL")
    write_hf_original(folder, seed=7)
    encoder = TextEncoder.load(folder, bundled_tokenizer_dir(), device="cpu", dtype=torch.float32)
    return MagicPrompter.from_text_encoder(encoder, None, folder, torch.float32)


def _assert_valid(caption: str) -> None:
    verification = verify_text(caption)
    assert verification.valid, verification.problems
    assert dumps_canonical(json.loads(caption)) == caption  # canonical key order, minified, literal non-ASCII


@pytest.mark.parametrize("name", IDEAS)
@pytest.mark.parametrize("seed", [0, 1])
def test_captions_pass_the_verifier(prompter, name, seed):
    result = prompter.write(IDEAS[name], 1024, 576, Sampling(seed=seed, max_new_tokens=BUDGET))
    _assert_valid(result.caption)
    assert result.tokens <= BUDGET
    caption = json.loads(result.caption)
    assert caption["compositional_deconstruction"]["elements"]
    assert all("bbox" in e for e in caption["compositional_deconstruction"]["elements"])
    assert ("the idea was cut to its first 6000 characters" in result.notes) == (name == "very_long")


def test_same_seed_same_caption(prompter):
    settings = Sampling(seed=5, temperature=1.0, top_p=0.9, max_new_tokens=BUDGET)
    first = prompter.write("a red fox in snow", 768, 1024, settings)
    assert prompter.write("a red fox in snow", 768, 1024, settings).caption == first.caption
    other = prompter.write("a red fox in snow", 768, 1024, Sampling(seed=6, max_new_tokens=BUDGET))
    assert other.caption != first.caption


@pytest.mark.parametrize("temperature", [0.0, 1.5])
def test_smallest_budget_still_closes(prompter, temperature):
    result = prompter.write(
        "a city skyline", 1024, 1024, Sampling(temperature=temperature, max_new_tokens=MIN_NEW_TOKENS)
    )
    _assert_valid(result.caption)
    assert result.tokens <= MIN_NEW_TOKENS


def test_revise_a_caption(prompter):
    original = prompter.write("a cabin", 1024, 768, Sampling(max_new_tokens=BUDGET)).caption
    revised = prompter.write(
        "make it a winter edition", 1024, 768, Sampling(seed=3, max_new_tokens=BUDGET), revise=original
    )
    _assert_valid(revised.caption)
    with pytest.raises(ValueError, match="not a JSON caption"):
        prompter.write("winter", 1024, 768, revise="just some words")


def test_cancel_stops_generation(prompter):
    seen: list[int] = []
    with pytest.raises(GenerationCancelled):
        prompter.write(
            "a boat", 512, 512, Sampling(max_new_tokens=BUDGET),
            progress=lambda done, total: seen.append(done), should_stop=lambda: len(seen) >= 5,
        )  # fmt: skip
    assert seen == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("idea", ["", "same layout, but for a bakery called «Brot & Zeit»"])
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_image_gives_valid_captions(prompter, idea, seed):
    image = torch.rand(40, 56, 3, generator=torch.Generator().manual_seed(seed))
    settings = Sampling(seed=seed, temperature=1.0, max_new_tokens=BUDGET)
    result = prompter.write(idea, 1024, 768, settings, image=image)
    _assert_valid(result.caption)
    assert prompter.write(idea, 1024, 768, settings, image=image).caption == result.caption
    assert prompter.vision() is prompter.vision()  # the tower is read once


def test_reference_image_refusals(prompter):
    image = torch.zeros(16, 16, 3)
    text_only = MagicPrompter(prompter.lm, prompter.tokenizer)
    with pytest.raises(ModelFileError, match=r"needs Qwen3-VL-8B's vision tower.*official text_encoder/"):
        text_only.write("", 512, 512, image=image)
    with pytest.raises(ValueError, match="cannot be combined"):
        prompter.write("", 512, 512, revise="{}", image=image)
    with pytest.raises(ValueError, match=r"must be \(height, width, 3\) RGB"):
        prompter.write("", 512, 512, image=torch.zeros(1, 16, 16, 3))


def test_without_a_head_the_error_says_where_it_goes(tmp_path):
    model = tiny_qwen3_vl_lm(seed=1)
    model.model.save_pretrained(tmp_path / "repo" / "text_encoder")  # head-less, like the official folder
    folder = tmp_path / "repo" / "text_encoder"
    encoder = TextEncoder.load(folder, bundled_tokenizer_dir(), device="cpu", dtype=torch.float32)
    with pytest.raises(ModelFileError, match=r"needs an LM head.*repo/prompt_enhancer_head.*--lm-head"):
        MagicPrompter.from_text_encoder(encoder, None, folder, torch.float32)


def test_repairs_for_rules_a_schema_cannot_express():
    raw = json.dumps(
        {
            "high_level_description": "x",
            "compositional_deconstruction": {
                "background": "y",
                "elements": [
                    {"type": "obj", "bbox": [900, 800, 100, 200], "desc": "swapped"},
                    {"type": "obj", "bbox": [1000, 5, 1000, 5], "desc": "no area"},
                    {"type": "text", "bbox": [0, 0, 10, 10], "text": "  ", "desc": "blank text"},
                ],
            },
        }
    )
    caption, notes, problems = finalize(raw)
    assert not problems and len(notes) == 3
    elements = json.loads(caption)["compositional_deconstruction"]["elements"]
    assert [e["bbox"] for e in elements] == [[100, 200, 900, 800], [999, 5, 1000, 6], [0, 0, 10, 10]]
    assert elements[2] == {"type": "obj", "bbox": [0, 0, 10, 10], "desc": "blank text"}


def test_sampling_greedy_and_nucleus_stay_in_the_allowed_set():
    logits = torch.tensor([5.0, 4.0, 0.0, -1.0, 9.0])
    allowed = torch.tensor([True, True, True, True, False])
    generator = torch.Generator().manual_seed(0)
    assert sample_token(logits, allowed, Sampling(temperature=0), generator) == 0
    draws = {sample_token(logits, allowed, Sampling(temperature=1.0, top_p=0.5), generator) for _ in range(50)}
    assert draws == {0}  # token 0 alone holds > 50% of the allowed mass
    draws = {sample_token(logits, allowed, Sampling(temperature=1.0, top_p=1.0), generator) for _ in range(200)}
    assert 4 not in draws and {0, 1} <= draws


def test_without_llguidance_the_error_says_how_to_install_it(prompter, monkeypatch):
    monkeypatch.setitem(sys.modules, "llguidance", None)  # import fails, as in a ComfyUI without the package
    monkeypatch.setattr(magic_decode, "_vocabularies", weakref.WeakKeyDictionary())
    with pytest.raises(Ideogram4Error, match="pip install llguidance"):
        prompter.write("a boat", 512, 512, Sampling(max_new_tokens=BUDGET))
