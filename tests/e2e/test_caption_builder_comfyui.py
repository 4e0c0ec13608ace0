"""IG4_CaptionBuilder inside a real ComfyUI: node definition, check route, headless prompts, and the editor widget
in the real frontend (classic litegraph canvas and Nodes 2.0). Needs COMFYUI_PATH (see README.md here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .comfyui_harness import PACK_DIR_NAME, ComfyPage, ComfyUI, history_messages

NODE = "IG4_CaptionBuilder"
CORPUS = json.loads((Path(__file__).resolve().parents[1] / "caption_corpus" / "corpus.json").read_text("utf-8"))
PHOTO = next(e["caption"] for e in CORPUS if e["name"] == "photo_full")
SIMPLE = {
    "compositional_deconstruction": {
        "background": "a quiet beach at dawn",
        "elements": [{"type": "obj", "bbox": [100, 150, 500, 600], "desc": "a red beach ball"}],
    }
}
SIMPLE_CANONICAL = json.dumps(SIMPLE, separators=(",", ":"))
# Background missing and y_min > y_max: invalid for the strict verifier.
INVALID = {"compositional_deconstruction": {"elements": [{"type": "obj", "bbox": [500, 100, 100, 500], "desc": "x"}]}}


def document(caption) -> str:
    return json.dumps({"caption": caption, "editor": {}})


def builder_graph(doc: str, *, strict: bool = False, width: int = 1024, height: int = 768, caption=None) -> dict:
    """API-format graph: the builder feeding the core "Preview as Text" output node."""
    inputs = {"width": width, "height": height, "document": doc, "strict": strict}
    graph = {
        "1": {"class_type": NODE, "inputs": inputs},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }
    if caption is not None:
        graph["3"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": caption}}
        inputs["caption"] = ["3", 0]
    return graph


# --- server side --------------------------------------------------------------------------------------------


def test_pack_loads_without_errors(comfyui: ComfyUI):
    log = comfyui.log_text()
    loaded = [line for line in log.splitlines() if PACK_DIR_NAME in line and "seconds" in line]
    assert loaded, f"the pack is missing from ComfyUI's custom-node import list:\n{log[-3000:]}"
    assert not any("IMPORT FAILED" in line for line in loaded), loaded
    failures = [line for line in log.splitlines() if "Cannot import" in line and PACK_DIR_NAME in line]
    assert not failures, failures
    status, extensions = comfyui.get("/extensions")
    assert status == 200
    ours = [e for e in extensions if e.startswith(f"/extensions/{PACK_DIR_NAME}/")]
    assert ours == [f"/extensions/{PACK_DIR_NAME}/ideogram4_caption_builder.js"], "one entry module, libs are .mjs"
    status, _ = comfyui.get(f"/extensions/{PACK_DIR_NAME}/lib/editor.mjs")
    assert status == 200, "the editor's modules are still served"


def test_object_info(comfyui: ComfyUI):
    status, info = comfyui.get(f"/object_info/{NODE}")
    assert status == 200 and NODE in info, info
    node = info[NODE]
    assert node["display_name"] == "Ideogram 4 · Caption Builder"
    assert node["category"] == "Ideogram 4"
    assert node["input_order"] == {
        "required": ["width", "height", "document", "strict"],
        "optional": ["caption", "reference_image"],
    }
    required, optional = node["input"]["required"], node["input"]["optional"]
    for size in ("width", "height"):
        kind, options = required[size]
        assert kind == "INT" and options["default"] == 1024 and options["step"] == 16
        assert (options["min"], options["max"]) == (256, 2048)
    assert required["document"][0] == "STRING" and required["document"][1]["multiline"] is True
    assert required["strict"] == ["BOOLEAN", {**required["strict"][1], "default": False}]
    assert optional["caption"][0] == "STRING" and optional["caption"][1]["forceInput"] is True
    assert optional["reference_image"][0] == "IMAGE"
    assert node["output"] == ["STRING", "INT", "INT", "STRING"]
    assert node["output_name"] == ["caption", "width", "height", "edit_elements"]
    assert node["output_node"] is False


def test_check_route_valid(comfyui: ComfyUI):
    status, body = comfyui.post("/ideogram4/caption/check", {"caption": PHOTO})
    assert status == 200, body
    assert body["valid"] and body["canonical_valid"] and body["problems"] == [] and body["repairs"] == []
    assert json.loads(body["canonical"]) == PHOTO
    assert body["tokens"]["limit"] == 2048 and body["tokens"]["count"] > 0


def test_check_route_invalid_and_repairs(comfyui: ComfyUI):
    status, body = comfyui.post("/ideogram4/caption/check", {"caption": json.dumps(INVALID)})
    assert status == 200, body
    assert not body["valid"]
    paths = {p["path"] for p in body["problems"]}
    assert {"compositional_deconstruction.background", "compositional_deconstruction.elements[0].bbox"} <= paths
    assert all(p["message"] and p["fix"] for p in body["problems"])

    # The v15 dialect's aspect_ratio: invalid as given, repaired (dropped) in the canonical caption.
    v15 = {"aspect_ratio": "1:1", **SIMPLE}
    status, body = comfyui.post("/ideogram4/caption/check", {"caption": json.dumps(v15)})
    assert status == 200 and not body["valid"] and body["canonical_valid"]
    assert body["repairs"][0]["path"] == "aspect_ratio"
    assert body["canonical"] == SIMPLE_CANONICAL

    # A code-fenced LLM answer is repaired too.
    fenced = f"```json\n{json.dumps(SIMPLE, indent=2)}\n```"
    status, body = comfyui.post("/ideogram4/caption/check", {"caption": fenced})
    assert status == 200 and body["canonical_valid"] and body["canonical"] == SIMPLE_CANONICAL


def test_check_route_bad_requests(comfyui: ComfyUI):
    status, body = comfyui.post("/ideogram4/caption/check", b"not json")
    assert status == 400 and "error" in body
    status, body = comfyui.post("/ideogram4/caption/check", {"text": "x"})
    assert status == 400 and body["error"]


def test_prompt_runs_and_history_holds_canonical_caption(comfyui: ComfyUI):
    entry = comfyui.run_prompt(builder_graph(document(SIMPLE)))
    assert entry["status"]["status_str"] == "success", entry["status"]
    outputs = entry["outputs"]
    assert outputs["1"]["caption"] == [SIMPLE_CANONICAL]
    assert outputs["1"]["text"][-1].startswith("tokens: ")
    assert outputs["2"]["text"] == [SIMPLE_CANONICAL]  # what flowed out of the caption socket


def test_prompt_imports_upstream_caption(comfyui: ComfyUI):
    """An LLM-style caption on the optional input replaces the document's caption, repaired."""
    fenced = f"```json\n{json.dumps({'aspect_ratio': '4:3', **SIMPLE}, indent=2)}\n```"
    entry = comfyui.run_prompt(builder_graph(document(PHOTO), caption=fenced))
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["outputs"]["2"]["text"] == [SIMPLE_CANONICAL]
    assert any("aspect_ratio" in line for line in entry["outputs"]["1"]["text"][0].splitlines())


def test_strict_invalid_caption_is_a_clear_execution_error(comfyui: ComfyUI):
    entry = comfyui.run_prompt(builder_graph(document(INVALID), strict=True))
    assert entry["status"]["status_str"] == "error"
    (error,) = history_messages(entry, "execution_error")
    assert error["node_type"] == NODE and error["node_id"] == "1"
    message = error["exception_message"]
    assert message.startswith("The caption is invalid (strict mode):")
    assert "compositional_deconstruction.background" in message
    assert re.search(r"compositional_deconstruction\.elements\[0\]\.bbox: y_min \(500\) is greater than y_max", message)

    # Not strict: the same caption runs, its problems reported as lines of the node's text output.
    entry = comfyui.run_prompt(builder_graph(document(INVALID), strict=False))
    if entry["status"]["status_str"] == "success":
        assert "compositional_deconstruction" in entry["outputs"]["1"]["text"][0]
    else:  # unrepairable problems still stop the run, with the reasons
        (error,) = history_messages(entry, "execution_error")
        assert "compositional_deconstruction" in error["exception_message"]

    # The server keeps answering and keeps running prompts.
    assert comfyui.get("/system_stats")[0] == 200
    entry = comfyui.run_prompt(builder_graph(document(SIMPLE), width=768))
    assert entry["status"]["status_str"] == "success"


def test_bad_inputs_are_reported_not_fatal(comfyui: ComfyUI):
    # Below the schema minimum: rejected by ComfyUI's validation with a node error.
    status, res = comfyui.post("/prompt", {"prompt": builder_graph(document(SIMPLE), width=128)})
    assert status == 400 and res["node_errors"]["1"]["errors"][0]["type"] == "value_smaller_than_min"
    # Not a multiple of 16: the node itself explains.
    entry = comfyui.run_prompt(builder_graph(document(SIMPLE), width=1000))
    assert entry["status"]["status_str"] == "error"
    (error,) = history_messages(entry, "execution_error")
    assert "16" in error["exception_message"]
    # Empty document.
    entry = comfyui.run_prompt(builder_graph(""))
    (error,) = history_messages(entry, "execution_error")
    assert "empty" in error["exception_message"]
    assert comfyui.get("/system_stats")[0] == 200


# --- frontend ------------------------------------------------------------------------------------------------

DRAW_FROM, DRAW_TO = (200, 200), (600, 500)  # caption units (x, y): expect bbox [200, 200, 500, 600]


def editor_point(page: ComfyPage, x: float, y: float) -> tuple[float, float]:
    box = page.page.locator("canvas.ig4-canvas").bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50, f"editor canvas not laid out: {box}"
    return box["x"] + box["width"] * x / 1000, box["y"] + box["height"] * y / 1000


def draw_box(page: ComfyPage) -> None:
    mouse = page.page.mouse
    mouse.move(*editor_point(page, *DRAW_FROM))
    mouse.down()
    mouse.move(*editor_point(page, *DRAW_TO), steps=10)
    mouse.up()


def stored_boxes(page: ComfyPage, node_id: str) -> list[list[int]]:
    text = page.widget_value(node_id, "document")
    assert text, "the hidden document widget was not updated"
    return [e["bbox"] for e in json.loads(text)["caption"]["compositional_deconstruction"]["elements"]]


def assert_drawn_box(boxes: list[list[int]]) -> None:
    assert len(boxes) == 1, boxes
    expected = [DRAW_FROM[1], DRAW_FROM[0], DRAW_TO[1], DRAW_TO[0]]
    assert all(abs(a - b) <= 10 for a, b in zip(boxes[0], expected, strict=True)), (boxes[0], expected)


def assert_canvas_aspect(page: ComfyPage, expected: float) -> None:
    """The editor canvas (= the image area) follows the node's width/height."""
    box = page.page.locator("canvas.ig4-canvas").bounding_box()
    ratio = box["width"] / box["height"]
    assert abs(ratio - expected) / expected < 0.03, (ratio, expected)


def builder_id(page: ComfyPage) -> str:
    return page.page.evaluate(f"() => String(app.graph.nodes.find(n => n.type === '{NODE}').id)")


def check_editor_mounted(page: ComfyPage, node_id: str) -> None:
    page.page.wait_for_function("document.querySelectorAll('canvas.ig4-canvas').length === 1")
    page.page.wait_for_function("document.querySelector('canvas.ig4-canvas').width > 0")
    widgets = page.node_eval(
        node_id,
        """node => node.widgets.map(w => ({name: w.name, type: w.type, hidden: !!w.hidden,
              optionsHidden: !!w.options?.hidden, serialize: w.serialize}))""",
    )
    by_name = {w["name"]: w for w in widgets}
    assert by_name["document"]["hidden"] and by_name["document"]["optionsHidden"]
    assert by_name["caption_editor"]["type"] == "IG4_CAPTION_EDITOR"
    assert by_name["caption_editor"]["serialize"] is False
    assert page.node_eval(node_id, "node => !!node.ig4?.editor")
    assert_document_not_shown(page)


def assert_document_not_shown(page: ComfyPage) -> None:
    """The raw document is never shown as a text box (Nodes 2.0 renders every widget not marked hidden)."""
    shown = page.page.evaluate(
        """() => [
             ...[...document.querySelectorAll('textarea, input')].filter(
               e => e.offsetParent !== null && String(e.value).includes('"compositional_deconstruction"')),
             ...[...document.querySelectorAll('[data-testid="node-widget"]')].filter(
               e => e.offsetParent !== null && e.innerText.trim().split('\\n')[0] === 'document'),
           ].length"""
    )
    assert shown == 0, "the hidden document widget is visible"


def queue_from_ui(page: ComfyPage, comfyui: ComfyUI, node_id: str) -> dict:
    """Wire the builder to a Preview-as-Text node, queue via the frontend, return the finished history entry."""
    preview_id = page.add_node("PreviewAny", pos=(1150, 160))
    page.page.evaluate(
        "([a, b]) => app.graph.getNodeById(a).connect(0, app.graph.getNodeById(b), 0)", [node_id, preview_id]
    )
    prompt = page.page.evaluate("async () => (await app.graphToPrompt()).output")
    inputs = prompt[node_id]["inputs"]
    assert "caption_editor" not in inputs, "the editor widget leaked into the API prompt"
    assert json.loads(inputs["document"])["caption"]["compositional_deconstruction"]["elements"]
    prompt_id = page.page.evaluate(
        "async () => (await window.comfyAPI.api.api.queuePrompt(0, await app.graphToPrompt())).prompt_id"
    )
    entry = comfyui.wait_history(prompt_id)
    assert entry["status"]["status_str"] == "success", entry["status"]
    page.page.wait_for_timeout(500)  # let the executed event reach the page
    return entry


def set_widget(page: ComfyPage, node_id: str, name: str, value) -> None:
    """Set a widget as the UI does (value + callback: the editor follows width/height)."""
    page.node_eval(
        node_id,
        "(node, [name, value]) => { const w = node.widgets.find(w => w.name === name);"
        " w.value = value; w.callback?.(value); node.setDirtyCanvas?.(true, true); }",
        [name, value],
    )


def edit_in_focus_mode(page: ComfyPage, node_id: str) -> None:
    """Open focus mode from the node, nudge the drawn (selected) box there, close it: the edit is stored."""
    before = stored_boxes(page, node_id)[0]
    page.page.get_by_role("button", name="Focus mode").click()
    overlay = page.page.locator(".ig4-editor.ig4-focus")
    overlay.wait_for()
    box, viewport = overlay.bounding_box(), page.page.viewport_size
    assert (box["width"], box["height"]) == (viewport["width"], viewport["height"]), (box, viewport)
    page.page.locator("canvas.ig4-canvas").focus()
    page.page.keyboard.press("Shift+ArrowRight")
    page.page.keyboard.press("Escape")  # deselects
    page.page.keyboard.press("Escape")  # closes
    page.page.wait_for_function("!document.querySelector('.ig4-editor.ig4-focus')")
    after = stored_boxes(page, node_id)[0]
    assert after == [before[0], before[1] + 10, before[2], before[3] + 10], (before, after)
    page.shot("focus_mode_edited")


def exercise_editor(page: ComfyPage, comfyui: ComfyUI, mode: str, *, height: int, reopen: bool = False) -> None:
    """Add the node, draw a box, run it from the UI, save and reload the workflow; screenshots on the way.
    `height` differs per mode so each run executes the node (identical inputs would be served from cache)."""
    page.clear()
    node_id = page.add_node(NODE)
    check_editor_mounted(page, node_id)
    set_widget(page, node_id, "height", height)
    page.page.wait_for_timeout(200)
    assert_canvas_aspect(page, 1024 / height)
    page.shot(f"{mode}_mounted")

    draw_box(page)
    page.page.wait_for_timeout(200)
    assert_drawn_box(stored_boxes(page, node_id))
    assert_document_not_shown(page)
    page.shot(f"{mode}_drawn")
    edit_in_focus_mode(page, node_id)
    caption_before = json.loads(page.widget_value(node_id, "document"))["caption"]

    entry = queue_from_ui(page, comfyui, node_id)
    assert entry["prompt"][2][node_id]["inputs"]["height"] == height
    caption = json.loads(entry["outputs"][node_id]["caption"][0])
    assert_drawn_box([e["bbox"] for e in caption["compositional_deconstruction"]["elements"]])
    page.shot(f"{mode}_executed")

    workflow = page.serialize()
    (saved,) = [n for n in workflow["nodes"] if n["type"] == NODE]
    assert any(isinstance(v, str) and '"bbox"' in v for v in saved["widgets_values"]), saved["widgets_values"]
    assert len(saved["widgets_values"]) == 4, "only width, height, document and strict are saved"

    if reopen:  # a fresh page (settings persist on the server), as after a browser reload
        page.open()
    page.clear()
    page.load(workflow)
    node_id = builder_id(page)
    check_editor_mounted(page, node_id)
    assert_drawn_box(stored_boxes(page, node_id))
    editor_doc = json.loads(page.node_eval(node_id, "node => node.ig4.editor.getDocument()"))
    assert editor_doc["caption"] == caption_before, "the reloaded workflow does not restore the caption exactly"
    page.page.wait_for_function("() => document.querySelector('.ig4-status')?.innerText.includes('1 element')")
    assert_canvas_aspect(page, 1024 / height)
    page.shot(f"{mode}_reloaded")


def test_editor_classic_canvas(comfy_page: ComfyPage, comfyui: ComfyUI):
    comfy_page.open()
    comfy_page.set_setting("Comfy.VueNodes.Enabled", False)
    exercise_editor(comfy_page, comfyui, "classic", height=768)


def test_editor_nodes_2(comfy_page: ComfyPage, comfyui: ComfyUI):
    comfy_page.open()
    try:
        comfy_page.set_setting("Comfy.VueNodes.Enabled", True)
        assert comfy_page.get_setting("Comfy.VueNodes.Enabled") is True
        comfy_page.page.wait_for_timeout(500)
        exercise_editor(comfy_page, comfyui, "nodes2", height=1280, reopen=True)
        # Rendered by the Vue node, not the litegraph DOM-widget overlay.
        node_id = builder_id(comfy_page)
        assert comfy_page.page.evaluate(
            'id => !!document.querySelector(`[data-node-id="${id}"] canvas.ig4-canvas`)', node_id
        ), "the editor is not inside the Vue node"
    finally:
        comfy_page.set_setting("Comfy.VueNodes.Enabled", False)


@pytest.fixture(autouse=True)
def _server_alive(comfyui: ComfyUI):
    yield
    comfyui.check_alive()
