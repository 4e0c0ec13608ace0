"""IG4_MagicPrompt inside a real ComfyUI: node definition, the POST /ideogram4/magic_prompt route's replies
(the builder's Magic Prompt action) and a reference image from core's Load Image. Needs COMFYUI_PATH (see
README.md here)."""

from __future__ import annotations

import base64

from fixtures_text import write_encoder_with_head, write_hf_original

from ideogram4_core.caption import verify_text
from ideogram4_core.caption.magic_decode import Sampling

from .comfyui_harness import ComfyUI
from .example_pictures import example_picture

NODE = "IG4_MagicPrompt"
ROUTE = "/ideogram4/magic_prompt"
PICTURE = "ig4_magic_reference.png"


def test_object_info(comfyui: ComfyUI):
    status, info = comfyui.get(f"/object_info/{NODE}")
    assert status == 200 and NODE in info, info
    node = info[NODE]
    assert (node["display_name"], node["category"]) == ("Ideogram 4 · Magic Prompt", "Ideogram 4")
    assert node["input_order"]["required"] == [
        "text_encoder", "idea", "width", "height", "seed", "temperature", "max_new_tokens"
    ]  # fmt: skip
    assert node["input_order"]["optional"] == ["image", "caption"]
    assert node["output"] == ["STRING"]


def test_route_replies_with_an_error_the_builder_can_show(comfyui: ComfyUI):
    """Runs before a text encoder with an LM head is loaded (the next test loads one)."""
    status, body = comfyui.post(ROUTE, {"idea": "a kite", "width": 1024, "height": 768, "seed": 0, "caption": None})
    if status == 409:  # no text encoder loaded in this server yet
        assert "Text Encoder Loader" in body["error"]
    else:  # one is loaded (another test ran a workflow): the fixture models carry no LM head
        assert status == 400 and body["error"], body
    status, body = comfyui.post(ROUTE, {"idea": "a kite", "width": "wide", "height": 768, "seed": 0})
    assert status == 400 and "integers" in body["error"]


def test_node_writes_a_valid_caption_and_the_route_shares_its_encoder(comfyui: ComfyUI):
    """Text Encoder Loader → Magic Prompt → Preview as Text on a tiny random encoder with its LM head: the caption
    passes the verifier, and the route (the builder's action), answering with the encoder the graph loaded, gives
    the same caption for the same idea, size, seed and (default) sampling settings."""
    write_encoder_with_head(comfyui.models_dir / "text_encoders", "ig4_magic_tiny.safetensors")
    idea, width, height, seed = 'a "SALE" banner for a bakery', 1024, 512, 1
    graph = {
        "1": {"class_type": "IG4_TextEncoderLoader",
              "inputs": {"text_encoder": "ig4_magic_tiny.safetensors", "tokenizer": "auto", "compute_dtype": "auto"}},
        "2": {"class_type": NODE,
              "inputs": {"text_encoder": ["1", 0], "idea": idea, "width": width, "height": height, "seed": seed,
                         "temperature": Sampling().temperature, "max_new_tokens": Sampling().max_new_tokens}},
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
    }  # fmt: skip
    entry = comfyui.run_prompt(graph, timeout=600)
    assert entry["status"]["status_str"] == "success", entry["status"]
    (caption,) = entry["outputs"]["3"]["text"]
    assert verify_text(caption).valid, caption
    status, body = comfyui.post(ROUTE, {"idea": idea, "width": width, "height": height, "seed": seed}, timeout=600)
    assert status == 200, body
    assert body["caption"] == caption


def test_node_describes_a_reference_image_from_load_image(comfyui: ComfyUI):
    """Load Image → Magic Prompt (image input) on a tiny Hugging Face Qwen3-VL folder (vision tower and LM head
    inside): the caption passes the verifier, and the same graph queued again (another seed, then the first)
    reuses the loaded tower and gives the first caption back; the route given the same picture as a PNG data URL
    (the builder's reference image) answers that caption too."""
    write_hf_original(comfyui.models_dir / "text_encoders" / "Qwen3-VL-vision-tiny", seed=6)
    picture = comfyui.base_dir / "input" / PICTURE
    example_picture(0).save(picture)

    def graph(seed: int) -> dict:
        return {
            "1": {"class_type": "IG4_TextEncoderLoader",
                  "inputs": {"text_encoder": "Qwen3-VL-vision-tiny/", "tokenizer": "auto", "compute_dtype": "auto"}},
            "2": {"class_type": "LoadImage", "inputs": {"image": PICTURE}},
            "3": {"class_type": NODE,
                  "inputs": {"text_encoder": ["1", 0], "idea": "same layout, for a bakery", "width": 768,
                             "height": 1024, "seed": seed, "temperature": Sampling().temperature,
                             "max_new_tokens": Sampling().max_new_tokens, "image": ["2", 0]}},
            "4": {"class_type": "PreviewAny", "inputs": {"source": ["3", 0]}},
        }  # fmt: skip

    try:
        captions = []
        for seed in (2, 3, 2):
            entry = comfyui.run_prompt(graph(seed), timeout=600)
            assert entry["status"]["status_str"] == "success", entry["status"]
            captions.append(entry["outputs"]["4"]["text"][0])
        url = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    finally:
        picture.unlink()
    assert all(verify_text(caption).valid for caption in captions), captions
    assert captions[2] == captions[0]
    body = {"idea": "same layout, for a bakery", "width": 768, "height": 1024, "seed": 2, "caption": None}
    status, reply = comfyui.post(ROUTE, body | {"image": url}, timeout=600)
    assert status == 200, reply
    assert reply["caption"] == captions[0]
    status, reply = comfyui.post(ROUTE, body | {"image": "data:image/gif;base64,R0lGOD"})
    assert status == 400 and "PNG, JPEG or WebP" in reply["error"], reply
