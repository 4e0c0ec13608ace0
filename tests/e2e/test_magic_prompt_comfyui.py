"""IG4_MagicPrompt inside a real ComfyUI: node definition and the POST /ideogram4/magic_prompt route's replies
(the builder's Magic Prompt action). Needs COMFYUI_PATH (see README.md here)."""

from __future__ import annotations

from .comfyui_harness import ComfyUI

NODE = "IG4_MagicPrompt"
ROUTE = "/ideogram4/magic_prompt"


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
    status, body = comfyui.post(ROUTE, {"idea": "a kite", "width": 1024, "height": 768, "seed": 0, "caption": None})
    if status == 409:  # no text encoder loaded in this server yet
        assert "Text Encoder Loader" in body["error"]
    else:  # one is loaded (another test ran a workflow): the fixture models carry no LM head
        assert status == 400 and body["error"], body
    status, body = comfyui.post(ROUTE, {"idea": "a kite", "width": "wide", "height": 768, "seed": 0})
    assert status == 400 and "integers" in body["error"]
