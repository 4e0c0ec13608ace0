"""Document round trip, undo/redo, import through the forgiving JS fallback, export/copy, Python agreement."""

from __future__ import annotations

import json

import pytest

RICH = {
    "high_level_description": "A retro travel poster of a lighthouse at dusk with the words VISIT MAINE.",
    "style_description": {
        "aesthetics": "mid-century, flat shapes",
        "lighting": "warm dusk glow",
        "medium": "screen print",
        "art_style": "mid-century modern illustration",
        "color_palette": ["#1B3A4B", "#F2A541", "#E4572E"],
    },
    "compositional_deconstruction": {
        "background": "A teal-to-orange sky over a calm sea.",
        "elements": [
            {
                "type": "text",
                "bbox": [40, 80, 180, 920],
                "text": "VISIT MAINE",
                "desc": "bold cream headline",
                "color_palette": ["#F3F3E6"],
            },
            {"type": "obj", "bbox": [220, 560, 820, 760], "desc": "white lighthouse with a red band"},
            {"type": "obj", "desc": "two seagulls, no fixed place"},
            {"type": "text", "bbox": [900, 300, 960, 700], "text": "Café Ñandú · 1952", "desc": "small serif caption"},
        ],
    },
}


def test_round_trip_document_reload_gives_same_state(editor):
    editor.mount(json.dumps({"caption": RICH, "editor": {"grid": 50, "opacity": 0.3}}, ensure_ascii=False))
    editor.page.locator(".ig4-toolbar .ig4-toggle", has_text="Labels").click()  # an edit: the document is written
    first = editor.page.evaluate("window.editor.getDocument()")
    assert json.loads(first)["caption"] == RICH
    assert json.loads(first)["editor"]["grid"] == 50
    assert "Café Ñandú" in first  # literal non-ASCII, no \\u escapes
    editor.mount(first)
    editor.page.locator(".ig4-toolbar .ig4-toggle", has_text="Labels").click()
    editor.page.locator(".ig4-toolbar .ig4-toggle", has_text="Labels").click()
    assert editor.page.evaluate("window.editor.getDocument()") == first
    assert editor.page.locator(".ig4-toolbar select").input_value() == "50"
    editor.shot("rich_caption")


def test_caption_text_matches_python_canonical(editor):
    caption = pytest.importorskip("ideogram4_core.caption")
    editor.mount(json.dumps({"caption": RICH}, ensure_ascii=False))
    js_canonical = editor.page.evaluate(
        "() => { const el = document.querySelector('.ig4-json'); return JSON.stringify(JSON.parse(el.textContent)); }"
    )
    assert js_canonical == caption.dumps_canonical(RICH)
    assert editor.page.evaluate("window.documents.length") == 0  # loading writes nothing back


def test_undo_redo_keys_and_buttons(editor):
    editor.drag((100, 100), (300, 300))
    editor.drag((500, 500), (700, 700))
    editor.drag((550, 550), (650, 800))  # move the second box
    assert editor.boxes() == [[100, 100, 300, 300], [750, 600, 950, 800]]
    editor.page.keyboard.press("Control+z")
    assert editor.boxes() == [[100, 100, 300, 300], [500, 500, 700, 700]]
    editor.page.keyboard.press("Control+z")
    assert editor.boxes() == [[100, 100, 300, 300]]
    editor.page.keyboard.press("Control+Shift+z")
    assert editor.boxes() == [[100, 100, 300, 300], [500, 500, 700, 700]]
    editor.page.get_by_title("Undo (Ctrl+Z)").click()
    editor.page.get_by_title("Undo (Ctrl+Z)").click()
    assert editor.boxes() == []
    assert editor.page.get_by_title("Undo (Ctrl+Z)").is_disabled()
    editor.page.get_by_title("Redo (Ctrl+Shift+Z)").click()
    assert editor.boxes() == [[100, 100, 300, 300]]


def test_typing_is_one_undo_step(editor):
    editor.drag((100, 100), (300, 300))
    desc = editor.page.get_by_placeholder("What it is, what it looks like")
    desc.press_sequentially("a red kite", delay=20)
    assert editor.elements()[0]["desc"] == "a red kite"
    editor.page.get_by_title("Undo (Ctrl+Z)").click()
    assert editor.elements()[0]["desc"] == ""


IMPORT_TEXT = """Sure! Here is your caption:
```json
{
  “high_level_description”: "A neon sign reading “OPEN” in a rainy window",
  "compositional_deconstruction": {
    "background": "a dark rainy street",
    "elements": [
      {"type": "text", "bbox": [300, 200, 500, 800], "text": "OPEN", "desc": "pink neon",
       "color_palette": ["#ff3399", "#ffffff"],},
    ],
  },
}
```
Let me know if you want changes."""


def test_import_with_repairs_lists_each_repair(editor):
    editor.tab("caption")
    editor.page.locator(".ig4-import-text").fill(IMPORT_TEXT)
    editor.page.get_by_role("button", name="Import", exact=True).click()
    status = editor.page.locator(".ig4-import-status")
    assert status.inner_text().startswith("Imported with")
    repairs = editor.page.locator(".ig4-repairs li").all_inner_texts()
    joined = "\n".join(repairs)
    for expected in ("code fence", "typographic quote", "trailing comma", "#ff3399"):
        assert expected in joined, f"repair {expected!r} not listed in {repairs}"
    caption = editor.caption()
    assert caption["high_level_description"] == "A neon sign reading “OPEN” in a rainy window"
    assert caption["compositional_deconstruction"]["elements"][0]["color_palette"] == ["#FF3399", "#FFFFFF"]
    # The verdict follows when the browser is idle (checker.mjs).
    editor.page.wait_for_function("document.querySelector('.ig4-verdict').innerText.startsWith('✓ Valid')")
    editor.shot("import_repairs")
    editor.page.keyboard.press("Control+z")  # import is undoable (focus is on the page, not a field)
    assert editor.boxes() == []


def test_import_refuses_unreadable_text(editor):
    editor.tab("caption")
    editor.page.locator(".ig4-import-text").fill("{ this is not json")
    editor.page.get_by_role("button", name="Import", exact=True).click()
    assert editor.page.locator(".ig4-import-status").inner_text().startswith("Not imported")


def test_invalid_stored_document_is_flagged_not_overwritten(editor):
    editor.mount('{"caption": {"compositional_deconstruction": ')
    banner = editor.page.locator(".ig4-banner").first
    assert banner.is_visible()
    assert editor.page.evaluate("window.documents.length") == 0


def test_live_validation_shows_problems_and_selects_element(editor, make_document):
    editor.mount(
        make_document([{"type": "obj", "bbox": [200, 100, 600, 300], "desc": "red", "color_palette": ["#ff0000"]}])
    )
    pill = editor.page.locator(".ig4-status .ig4-pill")
    assert pill.inner_text().startswith("✕ 1 error")
    assert editor.page.locator(".ig4-tokens").inner_text().startswith("≈ ")
    pill.click()
    problem = editor.page.locator(".ig4-problem-list .ig4-problem.error")
    assert "not an upper-case #RRGGBB colour" in problem.inner_text()
    problem.click()
    assert editor.page.locator(".ig4-layer.selected").count() == 1
    editor.shot("validation")


def test_engine_result_replaces_local_estimate(browser, base_url):
    """With a backend (the ComfyUI route), its verdict and exact token count are shown."""
    from conftest import Editor

    page = browser.new_page(viewport={"width": 1140, "height": 760})
    page.add_init_script(
        """window.fakeBackend = { calls: 0, async check(text) {
            this.calls++;
            return { valid: true, problems: [], repairs: [], canonical: text, tokens: { count: 321, exact: true } };
        } };"""
    )
    ed = Editor(page, base_url).open()
    ed.drag((100, 100), (400, 400))
    page.wait_for_function("window.fakeBackend.calls > 0")
    page.wait_for_function("document.querySelector('.ig4-tokens').textContent.startsWith('321 ')")
    ed.tab("caption")
    # The local check of the new box runs when the browser is idle; the engine's verdict on it comes after.
    page.wait_for_function("document.querySelector('.ig4-verdict').innerText.includes('checked by the engine')")
    assert page.evaluate("window.editor.ctx.report.tokens") == 321
    page.close()


def test_loading_a_caption_the_editor_must_adjust_says_so(editor, make_document):
    editor.mount(make_document([{"type": "obj", "bbox": [600, 100, 200, 300], "desc": "upside down"}]))
    banner = editor.page.locator(".ig4-banner").first
    assert "y_min (600) is greater than y_max (200)" in banner.inner_text()
    assert editor.boxes() == [[600, 100, 200, 300]]  # nothing written until the next edit
    editor.page.locator(".ig4-toolbar .ig4-toggle", has_text="Labels").click()
    assert editor.boxes() == [[200, 100, 600, 300]]
    assert banner.is_hidden()
