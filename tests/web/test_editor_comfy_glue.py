"""The ComfyUI entry (web/ideogram4_caption_builder.js) against stubbed ComfyUI modules and fake nodes:
hidden document widget, non-serialised editor widget, save/load and copy/paste through the document,
aspect from width/height, underlay from execution results, the caption offer, key isolation."""

from __future__ import annotations

import json

import pytest

HARNESS = "/tests/web/fixture/comfy.html"


@pytest.fixture
def comfy(browser, base_url):
    from conftest import Editor

    page = browser.new_page(viewport={"width": 1100, "height": 760})
    ed = Editor(page, base_url)
    page.goto(base_url + HARNESS)
    page.wait_for_function("window.harnessReady === true")
    page.evaluate("window.node = window.harness.create(1)")
    page.wait_for_function("document.querySelector('canvas.ig4-canvas').width > 0")
    yield ed
    errors = ed.errors
    page.close()
    assert not errors, f"uncaught page errors: {errors}"


def widget(comfy, name: str):
    return comfy.page.evaluate(
        "name => { const w = node.widgets.find(w => w.name === name);"
        " return {value: typeof w.value === 'string' ? w.value : null, hidden: !!w.hidden,"
        " optionsHidden: !!w.options?.hidden, serialize: w.serialize, optionsSerialize: w.options?.serialize}; }",
        name,
    )


def test_widgets_hidden_and_not_serialised(comfy):
    doc = widget(comfy, "document")
    assert doc["hidden"] and doc["optionsHidden"]
    editor = widget(comfy, "caption_editor")
    assert editor["serialize"] is False and editor["optionsSerialize"] is False
    assert comfy.page.evaluate("node.size[0] >= 900 && node.size[1] >= 700")


def test_edits_land_in_the_document_widget_and_survive_save_load(comfy):
    comfy.drag((100, 100), (400, 300))
    stored = json.loads(widget(comfy, "document")["value"])
    assert stored["caption"]["compositional_deconstruction"]["elements"][0]["bbox"] == [100, 100, 300, 400]
    # Save (widgets_values) → a new node (paste / workflow load) → configure: same caption in its editor.
    values = comfy.page.evaluate("node.serialize().widgets_values")
    assert len(values) == 4  # width, height, document, strict: the editor widget is not saved
    comfy.page.evaluate("vals => { window.copy = harness.create(2); copy.configure({widgets_values: vals}); }", values)
    copied = comfy.page.evaluate("copy.widgets.find(w => w.name === 'document').value")
    assert json.loads(copied) == stored
    rows = comfy.page.locator(".node").nth(1).locator(".ig4-layer")
    assert rows.count() == 1


def test_aspect_follows_width_and_height(comfy):
    comfy.page.evaluate(
        "() => { const w = node.widgets.find(w => w.name === 'width'); w.value = 1536; w.callback?.(1536);"
        " const h = node.widgets.find(w => w.name === 'height'); h.value = 640; h.callback?.(640); }"
    )
    comfy.page.wait_for_timeout(100)
    box = comfy.page.locator("canvas.ig4-canvas").bounding_box()
    assert box["width"] / box["height"] == pytest.approx(1536 / 640, rel=0.02)


def test_width_edit_remaps_boxes_but_a_loaded_workflow_does_not(comfy):
    comfy.drag((250, 250), (750, 750))
    comfy.page.evaluate(
        "() => { const w = node.widgets.find(w => w.name === 'width'); w.value = 2048; w.callback?.(2048); }"
    )
    stored = json.loads(widget(comfy, "document")["value"])
    assert stored["caption"]["compositional_deconstruction"]["elements"][0]["bbox"] == [250, 375, 750, 625]
    # A workflow saved at 2048 wide and loaded into a fresh node keeps its numbers.
    values = comfy.page.evaluate("node.serialize().widgets_values")
    comfy.page.evaluate("vals => { window.copy = harness.create(2); copy.configure({widgets_values: vals}); }", values)
    copied = json.loads(comfy.page.evaluate("copy.ig4.editor.getDocument()"))
    assert copied["caption"] == stored["caption"]


def test_underlay_from_downstream_result_and_opacity(comfy):
    comfy.drag((200, 200), (700, 600))
    comfy.page.evaluate("window.saver = harness.connectDownstream(node, 7)")
    comfy.page.evaluate("harness.executed(7, {images: [{filename: 'out.png', subfolder: '', type: 'output'}]})")
    comfy.page.wait_for_function("document.querySelector('.ig4-ref:not(.disabled)') !== null")
    slider = comfy.page.locator(".ig4-range")
    slider.fill("100")
    # The red test image at full opacity under the boxes (read after the next frame is painted).
    comfy.page.wait_for_function(
        "() => { const c = document.querySelector('canvas.ig4-canvas');"
        " const [r, g] = c.getContext('2d').getImageData(5, 5, 1, 1).data; return r > 200 && g < 60; }"
    )
    assert json.loads(widget(comfy, "document")["value"])["editor"]["opacity"] == 1
    comfy.shot("comfy_underlay")


def test_unrelated_node_results_are_ignored(comfy):
    comfy.page.evaluate("window.other = harness.connectDownstream({id: 99, outputs: [{links: []}]}, 8)")
    comfy.page.evaluate("harness.executed(8, {images: [{filename: 'x.png', subfolder: '', type: 'output'}]})")
    comfy.page.wait_for_timeout(200)
    assert comfy.page.locator(".ig4-ref.disabled").count() == 1


def test_offer_to_load_the_caption_the_node_used(comfy):
    used = {"compositional_deconstruction": {"background": "from an LLM", "elements": [{"type": "obj", "desc": "x"}]}}
    comfy.page.evaluate("text => harness.executed(1, {caption: [text]})", json.dumps(used))
    offer = comfy.page.locator(".ig4-offer")
    assert offer.is_visible()
    offer.get_by_role("button", name="Load into editor").click()
    comfy.page.wait_for_function("document.querySelector('.ig4-offer').hidden")
    assert json.loads(widget(comfy, "document")["value"])["caption"] == used


def test_editor_keys_do_not_reach_comfyui(comfy):
    comfy.drag((100, 100), (400, 300))
    elements = "() => JSON.parse(node.widgets.find(w => w.name === 'document').value).caption"
    elements += ".compositional_deconstruction.elements.length"
    comfy.page.keyboard.press("Delete")  # deletes the box, not the node
    assert comfy.page.evaluate(elements) == 0
    comfy.page.keyboard.press("Control+z")  # the editor's undo, not the graph's
    assert comfy.page.evaluate(elements) == 1
    assert comfy.page.evaluate("harness.windowKeys") == []


def test_route_result_is_used_when_the_server_has_it(comfy):
    comfy.page.evaluate(
        """() => { window.stubCheck = async (route, body) => ({ valid: true, problems: [], repairs: [],
            canonical: typeof body.caption === 'string' ? body.caption : JSON.stringify(body.caption),
            tokens: { count: 77, exact: true } }); }"""
    )
    comfy.drag((100, 100), (400, 300))
    comfy.page.wait_for_function("document.querySelector('.ig4-tokens').textContent.startsWith('77 ')")
