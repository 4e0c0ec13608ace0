"""Second-generation builder: Magic Prompt (mocked route; with a reference image), edit ticks, patch undo,
preview rendering at two zoom levels and DPR 2, focus mode (wheel zoom, space-drag pan),
crisp under a CSS (graph) zoom."""

from __future__ import annotations

import base64
import json
from io import BytesIO

import pytest
from conftest import ARTIFACTS, Editor
from PIL import Image

MAGIC = "**/ideogram4/magic_prompt"
POSTER = {
    "high_level_description": "A jazz poster.",
    "compositional_deconstruction": {
        "background": "A deep navy field.",
        "elements": [
            {"type": "obj", "bbox": [100, 100, 500, 900], "desc": "a red trumpet", "color_palette": ["#C8312B"]},
            {
                "type": "text",
                "bbox": [600, 100, 900, 900],
                "text": "JAZZ NIGHT IN LISBON",
                "desc": "bold serif headline",
                "color_palette": ["#F2A900"],
            },
        ],
    },
}


def elements_of(editor: Editor) -> list[dict]:
    return editor.elements()


def serve_poster(editor: Editor) -> list[dict]:
    """Mock the route to answer POSTER; returns the list the request bodies are appended to."""
    requests = []

    def reply(route):
        requests.append(route.request.post_data_json)
        route.fulfill(status=200, content_type="application/json", body=json.dumps({"caption": json.dumps(POSTER)}))

    editor.page.route(MAGIC, reply)
    return requests


def encoded(width: int, height: int, fmt: str) -> bytes:
    """A width×height gradient picture as a PNG or JPEG file."""
    picture = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = BytesIO()
    picture.save(buffer, fmt)
    return buffer.getvalue()


def sent_picture(body: dict) -> tuple[str, tuple[int, int]]:
    """The request's image data URL → (its header, the decoded picture's size)."""
    header, data = body["image"].split(",", 1)
    return header, Image.open(BytesIO(base64.b64decode(data))).size


def test_magic_prompt_fills_the_canvas_undoably(editor: Editor):
    requests = serve_poster(editor)
    editor.page.locator(".ig4-magic-btn").click()
    editor.page.locator(".ig4-magic-idea").fill("a jazz poster for Lisbon")
    editor.page.get_by_role("button", name="Write caption").click()
    editor.page.wait_for_function("window.editor.ctx.store.state.elements.length === 2")
    assert requests == [
        {"idea": "a jazz poster for Lisbon", "width": 1024, "height": 1024, "seed": 0, "caption": None, "image": None}
    ]
    assert editor.caption() == POSTER
    editor.page.locator("canvas.ig4-canvas").focus()
    editor.page.keyboard.press("Control+z")
    assert elements_of(editor) == []
    # With elements on the canvas, the current caption goes along (refine).
    editor.page.keyboard.press("Control+Shift+z")
    editor.page.get_by_label("Start from the current caption").check()
    editor.page.get_by_role("button", name="Write caption").click()
    editor.page.wait_for_function("document.querySelector('.ig4-magic-status').textContent.includes('loaded')")
    assert json.loads(requests[-1]["caption"]) == POSTER


def test_magic_prompt_sends_a_downscaled_reference_image(editor: Editor, make_document):
    """A picked 2000×1000 PNG goes out as a PNG data URL of 1024×512 with an empty idea and no caption (the
    "current caption" box is off and disabled meanwhile); the reply fills the canvas in one undo step; × removes
    the image; a JPEG dropped on the bar goes out as JPEG; other files and an empty request are refused."""
    requests = serve_poster(editor)
    kept = {"type": "obj", "bbox": [100, 100, 400, 400], "desc": "a lamp"}
    editor.mount(make_document([kept]))
    page = editor.page
    page.locator(".ig4-magic-btn").click()
    refine = page.get_by_label("Start from the current caption")
    assert refine.is_checked() and refine.is_enabled()
    page.locator(".ig4-magic-idea").fill("")
    refine.uncheck()
    page.get_by_role("button", name="Write caption").click()
    assert page.locator(".ig4-magic-status.error").text_content() == "Write an idea or add a reference image first."
    files = page.locator(".ig4-magic-file")
    files.set_input_files(files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    assert page.locator(".ig4-magic-status.error").text_content() == "notes.txt is not a PNG, JPEG or WebP image."
    refine.check()
    picture = {"name": "wide.png", "mimeType": "image/png", "buffer": encoded(2000, 1000, "PNG")}
    files.set_input_files(files=[picture])
    page.get_by_role("img", name="Reference image").wait_for()
    assert refine.is_disabled() and not refine.is_checked()
    assert "remove it" in page.locator(".ig4-check", has=refine).get_attribute("title")
    page.get_by_role("button", name="Write caption").click()
    page.wait_for_function("document.querySelector('.ig4-magic-status').textContent.includes('loaded')")
    assert (requests[-1]["idea"], requests[-1]["caption"]) == ("", None)
    assert sent_picture(requests[-1]) == ("data:image/png;base64", (1024, 512))
    assert editor.caption() == POSTER
    page.locator("canvas.ig4-canvas").focus()
    page.keyboard.press("Control+z")
    assert editor.elements() == [kept]
    page.get_by_role("button", name="Remove the reference image").click()
    assert page.locator(".ig4-magic-ref").is_hidden() and refine.is_enabled()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Add a reference image"
    page.evaluate(
        """bytes => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(bytes)], "photo.jpg", {type: "image/jpeg"}));
          const bar = document.querySelector(".ig4-magic");
          bar.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""",
        list(encoded(300, 200, "JPEG")),
    )
    page.get_by_role("img", name="Reference image").wait_for()
    page.locator(".ig4-magic-idea").fill("same layout, for a bakery")
    page.get_by_role("button", name="Write caption").click()
    page.wait_for_function("document.querySelector('.ig4-magic-status').textContent.includes('loaded')")
    assert len(requests) == 2 and requests[-1]["idea"] == "same layout, for a bakery"
    assert sent_picture(requests[-1]) == ("data:image/jpeg;base64", (300, 200))


def test_magic_prompt_shows_the_servers_error(editor: Editor):
    body = json.dumps({"error": "no text model is loaded: connect IG4 Magic Prompt Loader"})
    editor.page.route(MAGIC, lambda route: route.fulfill(status=400, content_type="application/json", body=body))
    editor.page.locator(".ig4-magic-btn").click()
    editor.page.locator(".ig4-magic-idea").fill("anything")
    editor.page.get_by_role("button", name="Write caption").click()
    status = editor.page.locator(".ig4-magic-status.error")
    status.wait_for()
    assert status.text_content() == "no text model is loaded: connect IG4 Magic Prompt Loader"
    assert elements_of(editor) == []


def test_ticked_elements_are_stored_as_edit_elements(editor: Editor):
    editor.mount(json.dumps({"caption": POSTER}))
    ticks = editor.page.locator(".ig4-layer .ig4-edit-tick")  # rows are front-most first
    ticks.nth(0).check()
    assert editor.document()["edit_elements"] == [2]
    ticks.nth(1).check()
    assert editor.document()["edit_elements"] == [1, 2]
    ticks.nth(0).uncheck()
    doc = editor.page.evaluate("window.editor.getDocument()")
    assert json.loads(doc)["edit_elements"] == [1]
    editor.mount(doc)
    assert editor.page.locator(".ig4-layer .ig4-edit-tick").evaluate_all("ts => ts.map(t => t.checked)") == [
        False,
        True,
    ]
    # Rows show the literal text of text elements.
    assert "“JAZZ NIGHT IN LISBON”" in editor.page.locator(".ig4-layer").nth(0).inner_text()


def test_undo_history_holds_patches_and_replays_exactly(editor: Editor):
    elements = [{"type": "obj", "bbox": [i, i, i + 10, i + 10], "desc": f"box {i}"} for i in range(0, 600, 20)]
    editor.mount(json.dumps({"caption": {"compositional_deconstruction": {"background": "b", "elements": elements}}}))
    result = editor.page.evaluate(
        """() => {
          const store = window.editor.ctx.store;
          const before = JSON.stringify(store.state);
          for (let i = 0; i < 60; i++) store.update(s => { s.elements[i % 30].desc += "x"; });
          const after = JSON.stringify(store.state);
          const sizes = store.history.map(p => (p.items ?? []).length + Object.keys(p.fields).length);
          const shared = store.state.elements.filter((e, i) => i > 0).length;
          for (let i = 0; i < 60; i++) store.undo();
          const undone = JSON.stringify(store.state);
          for (let i = 0; i < 60; i++) store.redo();
          return {before, after, undone, redone: JSON.stringify(store.state), sizes, shared};
        }"""
    )
    assert result["undone"] == result["before"] and result["redone"] == result["after"]
    assert result["after"] != result["before"]
    assert set(result["sizes"]) == {1}, "each step records one changed element, not a snapshot"


def canvas_pixel(page, x: float, y: float) -> list[int]:
    """RGBA of the canvas backing store at caption units (x, y)."""
    return page.evaluate(
        """([x, y]) => { const c = document.querySelector('canvas.ig4-canvas');
             const px = c.getContext('2d').getImageData(Math.floor(x / 1000 * c.width),
                                                        Math.floor(y / 1000 * c.height), 1, 1).data;
             return [...px]; }""",
        [x, y],
    )


def count_pixels_near(page, rect, rgb, tol=40) -> int:
    """How many backing-store pixels inside rect (caption units x0,y0,x1,y1) are within tol of rgb."""
    return page.evaluate(
        """([r, rgb, tol]) => { const c = document.querySelector('canvas.ig4-canvas');
             const x0 = Math.floor(r[0] / 1000 * c.width), y0 = Math.floor(r[1] / 1000 * c.height);
             const w = Math.floor((r[2] - r[0]) / 1000 * c.width), h = Math.floor((r[3] - r[1]) / 1000 * c.height);
             const d = c.getContext('2d').getImageData(x0, y0, w, h).data; let n = 0;
             for (let i = 0; i < d.length; i += 4)
               if ([0, 1, 2].every(k => Math.abs(d[i + k] - rgb[k]) < tol)) n++;
             return n; }""",
        [rect, rgb, tol],
    )


def wait_painted(page) -> None:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def backing_scale(page) -> float:
    return page.evaluate(
        "() => { const c = document.querySelector('canvas.ig4-canvas');"
        " return c.width / c.getBoundingClientRect().width; }"
    )


@pytest.fixture
def hidpi(browser, base_url):
    page = browser.new_page(viewport={"width": 1140, "height": 760}, device_scale_factor=2)
    ed = Editor(page, base_url).open(json.dumps({"caption": POSTER}))
    yield ed
    page.close()
    assert not ed.errors, ed.errors


def test_preview_renders_the_poster_at_dpr_2_and_two_zoom_levels(hidpi: Editor):
    page = hidpi.page
    wait_painted(page)
    assert abs(backing_scale(page) - 2) < 0.01, "backing store ignores devicePixelRatio"
    assert canvas_pixel(page, 20, 20)[:3] == [0x14, 0x26, 0x4F], "background colour from the description (navy)"
    assert canvas_pixel(page, 500, 300)[:3] == pytest.approx([0xC8, 0x31, 0x2B], abs=30), "object palette fill"
    text_box = [100, 600, 900, 900]
    amber = count_pixels_near(page, text_box, [0xF2, 0xA9, 0x00])
    assert amber > 2000, f"literal text not painted in its palette colour ({amber} px)"
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("canvas.ig4-canvas").screenshot(path=str(ARTIFACTS / "preview_fit_dpr2.png"))

    page.get_by_role("button", name="Focus mode").click()
    page.locator(".ig4-editor.ig4-focus").wait_for()
    box = page.locator(".ig4-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -1000)  # at DPR 2 Chromium halves the delta
    page.wait_for_function("Number(document.querySelector('canvas.ig4-canvas').dataset.zoom) > 1.8")
    wait_painted(page)
    assert abs(backing_scale(page) - 2) < 0.01, "zoomed canvas is not re-rasterised"
    assert canvas_pixel(page, 20, 20)[:3] == [0x14, 0x26, 0x4F], "background at 2× zoom"
    zoomed = count_pixels_near(page, text_box, [0xF2, 0xA9, 0x00])
    assert zoomed > 3 * amber, f"text not re-fitted at 2× zoom ({zoomed} px vs {amber} px at fit)"
    page.locator(".ig4-stage").screenshot(path=str(ARTIFACTS / "preview_zoom2_dpr2.png"))

    page.get_by_role("button", name="Wireframe").click()
    wait_painted(page)
    assert canvas_pixel(page, 2, 2)[:3] == [0x14, 0x14, 0x18], "wireframe keeps the neutral background"


def test_focus_mode_zoom_pan_draw_and_close(editor: Editor):
    page = editor.page
    page.get_by_role("button", name="Focus mode").click()
    root = page.locator(".ig4-editor.ig4-focus")
    root.wait_for()
    assert page.evaluate("document.querySelector('.ig4-editor').parentElement === document.body")
    size = root.bounding_box()
    assert size["width"] == 1140 and size["height"] == 760, size
    # Wheel zoom keeps the point under the cursor in place.
    x, y = editor.point(300, 300)
    page.mouse.move(x, y)
    page.mouse.wheel(0, -300)
    page.wait_for_function("Number(document.querySelector('canvas.ig4-canvas').dataset.zoom) > 1.3")
    after = editor.point(300, 300)
    assert abs(after[0] - x) < 2 and abs(after[1] - y) < 2, (x, y, after)
    # Space-drag pans and draws nothing.
    before = page.locator("canvas.ig4-canvas").bounding_box()
    page.locator("canvas.ig4-canvas").focus()
    page.keyboard.down(" ")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 120, y - 80, steps=5)
    page.mouse.up()
    page.keyboard.up(" ")
    moved = page.locator("canvas.ig4-canvas").bounding_box()
    assert abs(moved["x"] - before["x"] + 120) < 2 and abs(moved["y"] - before["y"] + 80) < 2
    assert editor.elements() == []
    # Drawing while zoomed lands on the right caption units.
    editor.drag((420, 420), (520, 480))
    (bbox,) = editor.boxes()
    assert all(abs(a - b) <= 3 for a, b in zip(bbox, [420, 420, 480, 520], strict=True)), bbox
    page.keyboard.press("0")
    assert page.locator("canvas.ig4-canvas").get_attribute("data-zoom") == "1"
    page.keyboard.press("Escape")  # deselects first
    page.keyboard.press("Escape")  # then closes
    page.wait_for_function("!document.querySelector('.ig4-editor').classList.contains('ig4-focus')")
    assert page.evaluate("document.querySelector('.ig4-editor').parentElement.id === 'host'")


def test_canvas_stays_crisp_under_graph_zoom(editor: Editor):
    page = editor.page
    page.evaluate("document.getElementById('host').style.transform = 'scale(1.75)'")
    page.evaluate("document.getElementById('host').style.transformOrigin = '0 0'")
    page.locator("canvas.ig4-canvas").dispatch_event("pointerenter")
    wait_painted(page)
    assert abs(backing_scale(page) - 1) < 0.01  # backing pixels = screen pixels (1.75 × CSS size)
    assert page.evaluate("document.querySelector('canvas.ig4-canvas').width") > 1.7 * page.evaluate(
        "document.querySelector('canvas.ig4-canvas').offsetWidth"
    )


def test_node_keeps_a_live_thumbnail_in_focus_mode(editor: Editor):
    page = editor.page
    page.get_by_role("button", name="Focus mode").click()
    page.locator(".ig4-editor.ig4-focus").wait_for()
    editor.drag((100, 100), (400, 400))
    page.get_by_role("button", name="Wireframe").click()  # outlines: the box shows as a coloured border
    wait_painted(page)
    lit = page.evaluate(
        """() => { const c = document.querySelector('.ig4-placeholder canvas.ig4-thumb');
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             const at = (x, y) => { const i = 4 * (Math.floor(y * c.height) * c.width + Math.floor(x * c.width));
                                    return d[i] + d[i + 1] + d[i + 2]; };
             const near = (x, y) => Math.max(...[-2, -1, 0, 1, 2].map(k => at(x + k / c.width, y)));
             return {edge: near(0.1, 0.25), outside: near(0.7, 0.7)}; }"""
    )
    assert lit["edge"] > lit["outside"] + 60, lit  # the new box's border is in the thumbnail
