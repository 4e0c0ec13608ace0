"""Canvas interactions: draw, select, move, resize, snap with guides, nudge, delete, multi-select, z-order."""

from __future__ import annotations

import pytest

BOX = {"type": "obj", "desc": "anchor box"}


def test_draw_creates_box_in_yxyx_order(editor):
    editor.drag((100, 200), (400, 600))
    assert editor.boxes() == [[200, 100, 600, 400]]
    assert editor.elements()[0]["type"] == "obj"
    editor.shot("draw")


def test_click_without_drag_draws_nothing(editor):
    editor.click(500, 500)
    assert editor.boxes() == []


def test_draw_respects_aspect(editor):
    editor.open(width=1344, height=768)
    box = editor.page.locator("canvas.ig4-canvas").bounding_box()
    assert box["width"] / box["height"] == pytest.approx(1344 / 768, rel=0.01)
    editor.drag((3, 4), (497, 502))  # near the canvas corner and centre: snapped onto them
    assert editor.boxes() == [[0, 0, 500, 500]]


def test_move_keeps_size_and_stays_inside(editor, make_document):
    editor.mount(make_document([{**BOX, "bbox": [100, 100, 300, 300]}]))
    editor.page.locator(".ig4-toolbar .ig4-toggle", has_text="Snap").click()  # snapping off
    editor.click(200, 200)  # the draw tool moves a selected box (a drag elsewhere draws)
    editor.drag((200, 200), (263, 347))
    assert editor.boxes() == [[247, 163, 447, 363]]
    editor.drag((260, 350), (1400, 1400))  # dragged far outside: clamped to the canvas
    assert editor.boxes() == [[800, 800, 1000, 1000]]


@pytest.mark.parametrize(
    ("handle", "to", "expected"),
    [
        ("nw", (150, 120), [120, 150, 600, 600]),
        ("n", (333, 150), [150, 200, 600, 600]),
        ("ne", (700, 150), [150, 200, 600, 700]),
        ("e", (750, 444), [200, 200, 600, 750]),
        ("se", (800, 850), [200, 200, 850, 800]),
        ("s", (111, 700), [200, 200, 700, 600]),
        ("sw", (100, 650), [200, 100, 650, 600]),
        ("w", (150, 222), [200, 150, 600, 600]),
    ],
)
def test_resize_by_each_handle(editor, make_document, handle, to, expected):
    editor.mount(make_document([{**BOX, "bbox": [200, 200, 600, 600]}]))
    editor.page.locator(".ig4-toolbar .ig4-toggle", has_text="Snap").click()
    editor.click(400, 400)  # select: handles appear
    x = {"w": 200, "e": 600}.get(handle[-1], 400)
    y = {"n": 200, "s": 600}.get(handle[0], 400)
    editor.drag((x, y), to)
    assert editor.boxes() == [expected]


def test_resize_past_opposite_edge_flips(editor, make_document):
    editor.mount(make_document([{**BOX, "bbox": [200, 200, 600, 600]}]))
    editor.page.locator(".ig4-toolbar .ig4-toggle", has_text="Snap").click()
    editor.click(400, 400)
    editor.drag((600, 600), (100, 100))
    assert editor.boxes() == [[100, 100, 200, 200]]


def test_move_snaps_to_other_box_edge_with_guide(editor, make_document):
    editor.mount(make_document([{**BOX, "bbox": [100, 100, 300, 300]}, {**BOX, "bbox": [500, 520, 700, 720]}]))
    # Drag box 2 so its left edge lands 4 units right of box 1's right edge (x=300) and its top
    # 3 units below box 1's top (y=100): both snap, and the guides are drawn while dragging.
    editor.click(620, 600)
    editor.drag((620, 600), (404, 203), steps=12, release=False)
    editor.wait_guides("x:300 y:100")
    guide_pixels = editor.page.evaluate(
        """() => {
            const c = document.querySelector('canvas.ig4-canvas');
            const g = c.getContext('2d');
            const x = Math.round(c.width * 0.3);
            const column = g.getImageData(x - 1, 0, 3, c.height).data;
            let magenta = 0;
            for (let i = 0; i < column.length; i += 4) {
                if (column[i] > 200 && column[i + 1] < 120 && column[i + 2] > 170) magenta++;
            }
            return magenta;
        }"""
    )
    assert guide_pixels > 50, "the vertical guide at x=300 is not drawn"
    editor.shot("snap_guides")
    editor.page.mouse.up()
    assert editor.boxes()[1] == [100, 300, 300, 500]
    editor.wait_guides("")


def test_resize_snaps_to_canvas_centre(editor, make_document):
    editor.mount(make_document([{**BOX, "bbox": [100, 100, 300, 300]}]))
    editor.click(200, 200)
    editor.drag((300, 300), (496, 420), release=False)
    editor.wait_guides("x:500")
    editor.page.mouse.up()
    assert editor.boxes()[0][3] == 500


def test_alt_drag_bypasses_snapping(editor, make_document):
    editor.mount(make_document([{**BOX, "bbox": [100, 100, 300, 300]}, {**BOX, "bbox": [500, 520, 700, 720]}]))
    editor.click(620, 600)
    editor.page.keyboard.down("Alt")
    editor.drag((620, 600), (404, 203), steps=12)
    editor.page.keyboard.up("Alt")
    assert editor.boxes()[1] == [103, 304, 303, 504]


def test_grid_snapping(editor):
    editor.page.locator(".ig4-toolbar select").select_option("50")
    editor.drag((112, 138), (389, 461))
    assert editor.boxes() == [[150, 100, 450, 400]]


def test_keyboard_nudge_and_delete(editor, make_document):
    editor.mount(make_document([{**BOX, "bbox": [100, 100, 300, 300]}]))
    editor.click(200, 200)
    keyboard = editor.page.keyboard
    keyboard.press("ArrowRight")
    keyboard.press("ArrowDown")
    keyboard.press("Shift+ArrowRight")
    assert editor.boxes() == [[101, 111, 301, 311]]
    keyboard.press("Shift+ArrowUp")
    keyboard.press("Shift+ArrowUp")
    keyboard.press("Shift+ArrowUp")
    assert editor.boxes() == [[71, 111, 271, 311]]
    keyboard.press("Delete")
    assert editor.boxes() == []


def test_shift_click_multi_select_moves_together(editor, make_document):
    editor.mount(make_document([{**BOX, "bbox": [100, 100, 200, 200]}, {**BOX, "bbox": [400, 400, 500, 500]}]))
    editor.page.locator(".ig4-toolbar .ig4-toggle", has_text="Snap").click()
    editor.click(150, 150)
    editor.click(450, 450, modifiers="Shift")
    assert editor.page.locator(".ig4-layer.selected").count() == 2
    editor.drag((450, 450), (500, 520))
    assert editor.boxes() == [[170, 150, 270, 250], [470, 450, 570, 550]]
    editor.page.keyboard.press("ArrowLeft")
    assert editor.boxes() == [[170, 149, 270, 249], [470, 449, 570, 549]]
    editor.shot("multi_select")


def test_front_box_is_picked_and_z_order_buttons(editor, make_document):
    els = [
        {"type": "obj", "bbox": [100, 100, 600, 600], "desc": "back"},
        {"type": "obj", "bbox": [300, 300, 800, 800], "desc": "front"},
    ]
    editor.mount(make_document(els))
    editor.click(450, 450)  # overlap: the front (last) element is picked
    assert editor.page.locator(".ig4-inspector textarea").nth(1).input_value() == "front"
    editor.page.get_by_title("Send backward").click()
    assert [e["desc"] for e in editor.elements()] == ["front", "back"]
    editor.page.get_by_title("Bring forward").click()
    assert [e["desc"] for e in editor.elements()] == ["back", "front"]
    editor.click(200, 200)  # only "back" is here
    editor.page.keyboard.press("]")
    assert [e["desc"] for e in editor.elements()] == ["front", "back"]


def test_layer_list_drag_reorders(editor, make_document):
    els = [{"type": "obj", "bbox": [100 * i, 100 * i, 100 * i + 100, 100 * i + 100], "desc": f"e{i}"} for i in range(4)]
    editor.mount(make_document(els))
    rows = editor.page.locator(".ig4-layer")
    assert rows.count() == 4
    # The list shows the front-most (e3) on top; drag the bottom row (e0, at the back) to the top.
    source = rows.nth(3).bounding_box()
    target = rows.nth(0).bounding_box()
    mouse = editor.page.mouse
    mouse.move(source["x"] + 40, source["y"] + source["height"] / 2)
    mouse.down()
    mouse.move(target["x"] + 40, target["y"] + 4, steps=8)
    mouse.up()
    assert [e["desc"] for e in editor.elements()] == ["e1", "e2", "e3", "e0"]
    editor.shot("layers")


def test_inspector_edits_element(editor):
    editor.drag((100, 100), (500, 300))
    inspector = editor.page.locator(".ig4-inspector")
    inspector.get_by_role("button", name="Text").click()
    inspector.get_by_placeholder("The exact words to render").fill("GRAND OPENING")
    inspector.get_by_placeholder("What it is, what it looks like").fill("bold red sans-serif headline")
    el = editor.elements()[0]
    assert el == {
        "type": "text",
        "bbox": [100, 100, 300, 500],
        "text": "GRAND OPENING",
        "desc": "bold red sans-serif headline",
    }
    inspector.locator("input[title=x_max]").fill("640")
    inspector.locator("input[title=x_max]").press("Enter")
    assert editor.boxes() == [[100, 100, 300, 640]]
    editor.shot("inspector")
