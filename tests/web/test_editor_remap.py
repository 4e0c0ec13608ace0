"""Aspect-safe remap: a size change keeps the boxes' shapes by default (the underlay follows), or stretches."""

from __future__ import annotations

from conftest import Editor
from test_editor_second_gen import canvas_pixel, wait_painted

SQUARE = [250, 250, 750, 750]


def test_size_change_keeps_shapes_by_default_and_can_stretch(editor: Editor, make_document):
    editor.mount(make_document([{"type": "obj", "bbox": SQUARE, "desc": "a square"}]))
    page = editor.page
    page.evaluate(
        """() => { const c = document.createElement('canvas'); c.width = c.height = 4;
             const g = c.getContext('2d'); g.fillStyle = '#ff0000'; g.fillRect(0, 0, 4, 4);
             window.editor.setUnderlay(c.toDataURL()); }"""
    )
    page.wait_for_function("window.editor.ctx.underlay !== null")
    page.evaluate("window.editor.ctx.setPrefs({opacity: 1})")
    page.evaluate("window.editor.resizeTarget(2048, 1024)")
    bar = page.get_by_role("status").filter(has_text="Image size is now 2048×1024")
    assert bar.is_visible()
    # 1:1 → 2:1: the old canvas sits in the middle half; the square stays square on screen (512 × 512 px).
    ((y0, x0, y1, x1),) = editor.boxes()
    assert [y0, x0, y1, x1] == [250, 375, 750, 625]
    assert (x1 - x0) * 2048 == (y1 - y0) * 1024
    wait_painted(page)
    assert canvas_pixel(page, 500, 100)[:3] == [255, 0, 0], "underlay drawn in the old canvas's place"
    assert canvas_pixel(page, 100, 100)[:3] != [255, 0, 0], "underlay not stretched over the new margins"
    bar.get_by_role("button", name="Stretch").click()
    assert editor.boxes() == [SQUARE]
    wait_painted(page)
    assert canvas_pixel(page, 100, 100)[:3] == [255, 0, 0], "stretched underlay covers the canvas"
    page.locator("canvas.ig4-canvas").focus()
    page.keyboard.press("Control+z")
    assert editor.boxes() == [[250, 375, 750, 625]], "each choice is one undo step"
    # The choice is remembered: the next size change stretches.
    page.evaluate("window.editor.resizeTarget(1024, 2048)")
    assert editor.boxes() == [[250, 375, 750, 625]]
    assert page.evaluate("JSON.parse(window.editor.getDocument()).editor.remap") == "stretch"


def test_loading_a_size_does_not_remap(editor: Editor, make_document):
    editor.mount(make_document([{"type": "obj", "bbox": SQUARE, "desc": "a square"}]))
    editor.page.evaluate("window.editor.setAspect(2048, 1024)")
    assert editor.boxes() == [SQUARE]
    assert not editor.page.locator(".ig4-remap").is_visible()
