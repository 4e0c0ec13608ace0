"""Node help pages (`web/docs/<NODE_ID>.md`) in a real ComfyUI: every node of the pack has one, served where the
frontend looks for it and naming each of the node's inputs, and the frontend's node Info panel renders it."""

from __future__ import annotations

import re

import pytest

from .comfyui_harness import PACK_DIR_NAME, ComfyPage, ComfyUI

DOCS = f"/extensions/{PACK_DIR_NAME}/docs"


def pack_nodes(comfyui: ComfyUI) -> dict[str, dict]:
    status, info = comfyui.get("/object_info")
    assert status == 200
    nodes = {name: spec for name, spec in info.items() if spec.get("python_module", "").endswith(PACK_DIR_NAME)}
    assert "IG4_Sampler" in nodes, sorted(nodes)
    return nodes


def input_names(spec: dict) -> set[str]:
    """The node's inputs, with the fields of each DynamicCombo option (e.g. the Custom preset's)."""
    names = set()
    for group in ("required", "optional"):
        for name, (kind, options) in spec["input"].get(group, {}).items():
            names.add(name)
            if kind == "COMFY_DYNAMICCOMBO_V3":
                for option in options["options"]:
                    names |= {n for inputs in option["inputs"].values() for n in inputs}
    return names


def test_every_node_has_a_help_page_naming_each_input(comfyui: ComfyUI):
    for name, spec in pack_nodes(comfyui).items():
        status, page = comfyui.get(f"{DOCS}/{name}.md")
        assert status == 200, f"{name}: no web/docs/{name}.md"
        assert page.startswith(f"# {spec['display_name']}\n"), f"{name}: the page should open with its title"
        missing = [i for i in sorted(input_names(spec)) if not re.search(rf"\b{re.escape(i)}\b", page)]
        assert not missing, f"web/docs/{name}.md does not describe {missing}"


@pytest.mark.parametrize("node_type", ["IG4_Sampler", "IG4_ModelLoader"])
def test_the_frontend_shows_the_help_page_in_the_node_info_panel(comfy_page: ComfyPage, node_type: str):
    comfy = comfy_page.open()
    comfy.clear()
    node = comfy.add_node(node_type)
    comfy.page.evaluate("id => app.canvas.selectNode(app.graph.getNodeById(id))", node)
    comfy.page.evaluate(
        """() => document.querySelector('#vue-app').__vue_app__.config.globalProperties.$pinia._s
             .get('rightSidePanel').openPanel('info')"""
    )
    page = comfy.server.get(f"{DOCS}/{node_type}.md")[1]
    heading = page.splitlines()[0].removeprefix("# ")
    section = "Presets" if node_type == "IG4_Sampler" else "Where the files go"
    comfy.page.get_by_role("heading", name=section).wait_for()
    assert comfy.page.get_by_role("heading", name=heading, exact=True).count() >= 1
    comfy.shot(f"help_{node_type}")
    # The frontend asks for docs/<NODE_ID>/<locale>.md first and falls back to docs/<NODE_ID>.md: that 404 is
    # its lookup, not a fault of the pack.
    probe = f"{DOCS}/{node_type}/"
    comfy.pack_console_errors[:] = [e for e in comfy.pack_console_errors if probe not in e or "404" not in e]
