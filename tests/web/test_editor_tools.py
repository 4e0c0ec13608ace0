"""Canvas tools: draw over boxes, marquee, shift constrain, aspect lock, align/distribute/spacing, copy/paste
between two builders through the system clipboard, lock and hide, the shortcut help."""

from __future__ import annotations

import json

import pytest
from conftest import Editor

BOX = {"type": "obj", "desc": "a box"}
SNAP = ".ig4-toolbar .ig4-toggle"


def boxes_doc(make_document, *bboxes) -> str:
    return make_document([{**BOX, "bbox": list(b)} for b in bboxes])


def no_snap(editor: Editor) -> None:
    editor.page.locator(SNAP, has_text="Snap").click()


def selected(editor: Editor) -> list[int]:
    """1-based numbers of the selected elements."""
    return editor.page.evaluate(
        "() => { const c = window.editor.ctx; return c.store.state.elements.flatMap((e, i) =>"
        " c.selection.has(e.id) ? [i + 1] : []); }"
    )


def test_draw_tool_draws_over_an_existing_box_and_a_click_selects_it(editor: Editor, make_document):
    editor.mount(boxes_doc(make_document, [100, 100, 700, 700]))
    no_snap(editor)
    editor.drag((200, 200), (400, 500))
    assert editor.boxes() == [[100, 100, 700, 700], [200, 200, 500, 400]]
    editor.click(600, 600)  # a click (no drag) on a box selects it
    assert selected(editor) == [1]


def test_select_tool_marquee_and_shift_marquee(editor: Editor, make_document):
    editor.mount(boxes_doc(make_document, [100, 100, 200, 200], [100, 400, 200, 500], [600, 600, 700, 700]))
    editor.page.locator(".ig4-seg-btn", has_text="Select").click()
    editor.drag((50, 50), (450, 250))  # touches boxes 1 and 2
    assert selected(editor) == [1, 2]
    assert len(editor.boxes()) == 3, "the marquee draws nothing"
    editor.page.keyboard.down("Shift")
    editor.drag((550, 550), (900, 900))
    editor.page.keyboard.up("Shift")
    assert selected(editor) == [1, 2, 3]
    editor.drag((950, 20), (990, 40))  # empty region: nothing selected
    assert selected(editor) == []
    # The select tool moves the box under the pointer without clicking it first; keys switch tools.
    no_snap(editor)
    editor.drag((150, 150), (250, 180))
    assert editor.boxes()[0] == [130, 200, 230, 300]
    editor.page.keyboard.press("r")
    assert editor.page.evaluate("window.editor.ctx.prefs.tool") == "draw"
    editor.page.keyboard.press("v")
    assert editor.page.evaluate("window.editor.ctx.prefs.tool") == "select"


def test_shift_draws_a_square_on_screen_and_moves_along_one_axis(browser, base_url, make_document):
    page = browser.new_page(viewport={"width": 1140, "height": 760})
    editor = Editor(page, base_url).open(width=2048, height=1024)  # 2:1, so a square is twice as tall in units
    no_snap(editor)
    editor.page.keyboard.down("Shift")
    editor.drag((100, 100), (300, 250))
    editor.page.keyboard.up("Shift")
    ((y0, x0, y1, x1),) = editor.boxes()
    assert (y0, x0) == (100, 100) and abs((x1 - x0) * 2 - (y1 - y0)) <= 2, editor.boxes()
    # Shift (pressed after the press: shift-press toggles the selection) moves along the dominant axis.
    editor.drag((150, 200), (160, 200), steps=2, release=False)
    editor.page.keyboard.down("Shift")
    editor.page.mouse.move(*editor.point(450, 230), steps=6)
    editor.page.mouse.up()
    editor.page.keyboard.up("Shift")
    assert editor.boxes()[0][0] == y0 and editor.boxes()[0][1] == x0 + 300
    page.close()
    assert not editor.errors


@pytest.mark.parametrize("how", ["shift", "lock"])
def test_resize_keeps_the_shape_with_shift_or_aspect_lock(editor: Editor, make_document, how):
    editor.mount(boxes_doc(make_document, [100, 100, 300, 500]))  # 400 wide, 200 tall
    no_snap(editor)
    if how == "lock":
        editor.page.get_by_role("button", name="Aspect lock").click()
    editor.click(300, 200)

    def resize(start, end):
        if how == "shift":
            editor.page.keyboard.down("Shift")
        editor.drag(start, end)
        if how == "shift":
            editor.page.keyboard.up("Shift")

    resize((500, 300), (700, 320))  # the corner mostly widens: the height follows
    ((y0, x0, y1, x1),) = editor.boxes()
    assert (y0, x0) == (100, 100) and x1 == 700 and y1 == 400, editor.boxes()
    resize((700, 250), (900, 250))  # the right edge: the height grows about the centre
    ((y0, x0, y1, x1),) = editor.boxes()
    assert (x0, x1) == (100, 900) and (y0, y1) == (50, 450), editor.boxes()


def test_align_distribute_and_equal_spacing(editor: Editor, make_document):
    editor.mount(boxes_doc(make_document, [100, 100, 200, 200], [300, 250, 350, 450], [500, 800, 600, 850]))
    canvas = editor.page.locator("canvas.ig4-canvas")
    canvas.focus()
    editor.page.keyboard.press("Control+a")
    editor.page.get_by_role("button", name="Align left").click()
    assert [b[1] for b in editor.boxes()] == [100, 100, 100]
    editor.page.get_by_role("button", name="Align right").click()
    assert [b[3] for b in editor.boxes()] == [300, 300, 300]  # the widest box's right edge
    canvas.focus()
    editor.page.keyboard.press("Alt+w")  # align top
    assert [b[0] for b in editor.boxes()] == [100, 100, 100]
    editor.page.keyboard.press("Alt+v")  # vertical middles of the group bounds (100..200)
    assert [(b[0] + b[2]) / 2 for b in editor.boxes()] == [150, 150, 150]
    # Spread out again, then distribute centres and equalise gaps horizontally.
    editor.mount(boxes_doc(make_document, [0, 0, 100, 100], [0, 150, 100, 450], [0, 900, 100, 1000]))
    canvas.focus()
    editor.page.keyboard.press("Control+a")
    editor.page.get_by_role("button", name="Distribute centres horizontally").click()
    assert [(b[1] + b[3]) / 2 for b in editor.boxes()] == [50, 500, 950]
    editor.page.get_by_role("button", name="Equal horizontal spacing").click()
    xs = [(b[1], b[3]) for b in editor.boxes()]
    assert xs == [(0, 100), (350, 650), (900, 1000)], xs  # gaps 250 and 250
    canvas.focus()
    editor.page.keyboard.press("Control+z")
    assert [(b[1] + b[3]) / 2 for b in editor.boxes()] == [50, 500, 950], "one undo step per arrange"


def test_one_box_aligns_to_the_canvas(editor: Editor, make_document):
    editor.mount(boxes_doc(make_document, [100, 100, 300, 300]))
    editor.click(200, 200)
    editor.page.get_by_role("button", name="Align horizontal centres").click()
    editor.page.get_by_role("button", name="Align bottom").click()
    assert editor.boxes() == [[800, 400, 1000, 600]]


def test_copy_paste_between_two_builders_through_the_system_clipboard(browser, base_url, make_document):
    context = browser.new_context(viewport={"width": 1140, "height": 1600})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    first = Editor(page, base_url).open()
    text = {**BOX, "type": "text", "text": "SALE", "desc": "bold sans", "color_palette": ["#FF0000"]}
    first.mount(make_document([{**BOX, "bbox": [100, 100, 200, 200]}, {**text, "bbox": [300, 300, 400, 600]}]))
    first.click(450, 350)  # the text element
    page.keyboard.press("Control+c")
    clip = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert clip == {"compositional_deconstruction": {"elements": [{**text, "bbox": [300, 300, 400, 600]}]}}
    page.evaluate(
        """() => import('/web/lib/editor.mjs').then(m => {
             const host = document.createElement('div');
             host.style.cssText = 'width: 1100px; height: 720px; margin: 16px';
             document.body.append(host);
             window.second = m.mountEditor(host, {});
           })"""
    )
    second_canvas = page.locator("canvas.ig4-canvas").nth(1)
    page.wait_for_function("document.querySelectorAll('canvas.ig4-canvas')[1].width > 0")
    second_canvas.focus()
    page.keyboard.press("Control+v")
    page.wait_for_function("window.second.ctx.store.state.elements.length === 1")
    pasted = json.loads(page.evaluate("window.second.getDocument()"))["caption"]
    assert pasted["compositional_deconstruction"]["elements"] == [{**text, "bbox": [300, 300, 400, 600]}]
    # Pasting again lands offset, not exactly on top; cut removes from the source.
    page.keyboard.press("Control+v")
    page.wait_for_function("window.second.ctx.store.state.elements.length === 2")
    boxes = [
        e["bbox"]
        for e in json.loads(page.evaluate("window.second.getDocument()"))["caption"]["compositional_deconstruction"][
            "elements"
        ]
    ]
    assert boxes == [[300, 300, 400, 600], [320, 320, 420, 620]]
    page.locator("#host canvas").focus()
    page.keyboard.press("Control+x")
    page.wait_for_function("window.editor.ctx.store.state.elements.length === 1")  # cut deletes once copied
    assert first.boxes() == [[100, 100, 200, 200]]
    context.close()
    assert not first.errors


def test_lock_and_hide(editor: Editor, make_document):
    editor.mount(boxes_doc(make_document, [100, 100, 400, 400], [500, 500, 800, 800]))
    no_snap(editor)
    editor.click(250, 250)
    editor.page.keyboard.press("Control+l")
    # A locked box is not picked: a drag on it draws, arrows and select-all leave it alone.
    editor.drag((200, 200), (300, 300))
    assert editor.boxes()[0] == [100, 100, 400, 400] and editor.boxes()[2] == [200, 200, 300, 300]
    editor.page.keyboard.press("Control+a")
    assert selected(editor) == [2, 3]
    editor.page.keyboard.press("ArrowRight")
    assert editor.boxes()[0] == [100, 100, 400, 400] and editor.boxes()[1] == [500, 501, 800, 801]
    # Hide box 2 from its layer row: not painted, kept in the caption, restored from the document.
    editor.page.get_by_role("button", name="Hide element 2").click()
    doc = editor.page.evaluate("window.editor.getDocument()")
    assert json.loads(doc)["layers"] == {"locked": [1], "hidden": [2]}
    assert len(editor.boxes()) == 3
    editor.mount(doc)
    assert editor.page.get_by_role("button", name="Show element 2").get_attribute("aria-pressed") == "true"
    assert editor.page.get_by_role("button", name="Unlock element 1").get_attribute("aria-pressed") == "true"
    editor.click(650, 650)  # hidden: not picked
    assert selected(editor) == []


def test_help_popover_lists_every_shortcut(editor: Editor):
    page = editor.page
    page.get_by_role("button", name="Keyboard shortcuts").click()
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert dialog.is_visible()
    listed = dialog.locator("kbd").all_text_contents()
    table = page.evaluate("import('/web/lib/shortcuts.mjs').then(m => m.SHORTCUTS.map(s => s[0]))")
    for keys in table:
        assert keys.replace("Mod", "Ctrl") in listed, keys
    assert "Ctrl+Z / Ctrl+Shift+Z" in listed
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    page.locator("canvas.ig4-canvas").focus()
    page.keyboard.press("?")
    assert dialog.is_visible()


def test_numbers_are_list_positions_and_rows_show_literal_text(editor: Editor, make_document):
    text = {"type": "text", "bbox": [600, 100, 700, 900], "text": "OPEN LATE", "desc": "neon script"}
    editor.mount(make_document([{**BOX, "bbox": [100, 100, 200, 200]}, {**BOX, "bbox": [300, 300, 400, 400]}, text]))
    rows = editor.page.locator(".ig4-layer")
    assert rows.locator(".ig4-layer-num").all_text_contents() == ["3", "2", "1"]  # front-most row first
    assert "“OPEN LATE”" in rows.nth(0).inner_text() and "neon script" not in rows.nth(0).inner_text()
    editor.click(150, 150)
    assert editor.page.locator(".ig4-inspector").get_by_text("Element 1").is_visible()
    # Numbers are the positions the engine and CLI use (edit_elements): the ticked row reports its number.
    rows.nth(0).locator(".ig4-edit-tick").check()
    assert editor.document()["edit_elements"] == [3]
