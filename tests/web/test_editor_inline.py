"""In-place editing (double-click a box) and the palette shown beside the selected box."""

from __future__ import annotations

from conftest import Editor

TEXT = {"type": "text", "bbox": [200, 100, 400, 600], "text": "OLD", "desc": "bold sans headline"}
OBJ = {"type": "obj", "bbox": [600, 600, 900, 900], "desc": "a lemon"}


def screen_box(editor: Editor, bbox) -> dict:
    x0, y0 = editor.point(bbox[1], bbox[0])
    x1, y1 = editor.point(bbox[3], bbox[2])
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def test_double_click_edits_literal_text_in_place(editor: Editor, make_document):
    editor.mount(make_document([TEXT, OBJ]))
    page = editor.page
    page.mouse.dblclick(*editor.point(300, 300))
    field = page.get_by_label("Literal text of element 1")
    assert field.is_visible() and field.input_value() == "OLD"
    laid = field.bounding_box()
    want = screen_box(editor, TEXT["bbox"])
    assert all(abs(laid[k] - want[k]) < 3 for k in want), (laid, want)
    page.keyboard.type("SUMMER SALE")  # the old text was selected: replaced
    page.keyboard.press("Enter")
    assert not field.is_visible()
    assert editor.elements()[0]["text"] == "SUMMER SALE"
    page.keyboard.press("Control+z")
    assert editor.elements()[0]["text"] == "OLD"


def test_double_click_edits_an_objects_description_and_escape_cancels(editor: Editor, make_document):
    editor.mount(make_document([TEXT, OBJ]))
    page = editor.page
    page.mouse.dblclick(*editor.point(750, 750))
    field = page.get_by_label("Description of element 2")
    page.keyboard.type("a ripe lemon")
    page.keyboard.press("Escape")
    assert not field.is_visible() and editor.elements()[1]["desc"] == "a lemon"
    page.mouse.dblclick(*editor.point(750, 750))
    page.keyboard.type("a ripe lemon")
    page.locator(".ig4-side").click(position={"x": 5, "y": 5})  # leaving the field keeps the edit
    assert editor.elements()[1]["desc"] == "a ripe lemon"


def test_palette_floats_beside_the_selected_box(editor: Editor, make_document):
    editor.mount(make_document([TEXT, OBJ]))
    page = editor.page
    pal = page.get_by_role("group", name="Palette of the selected element")
    assert not pal.is_visible()
    editor.click(300, 300)
    assert pal.is_visible()
    box = screen_box(editor, TEXT["bbox"])
    where = pal.bounding_box()
    assert where["x"] >= box["x"] + box["width"] and abs(where["y"] - box["y"]) < 3, (where, box)
    pal.locator(".ig4-hex-input").fill("#ff0000 #00ff00")
    pal.locator(".ig4-hex-input").press("Enter")
    assert editor.elements()[0]["color_palette"] == ["#FF0000", "#00FF00"]
    # A box near the right edge gets its palette on the left side.
    editor.click(750, 750)
    box = screen_box(editor, OBJ["bbox"])
    where = pal.bounding_box()
    assert where["x"] + where["width"] <= box["x"], (where, box)
