"""Import: partial (usable parts come in, each problem left is reported by JSON path; syntax errors by line and
column), merge into the current caption, paste from the clipboard; the template gallery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Editor

TEMPLATES = json.loads((Path(__file__).parents[2] / "web" / "lib" / "templates.json").read_text(encoding="utf-8"))
GOOD = {"type": "obj", "bbox": [100, 100, 300, 300], "desc": "a lemon"}


def run_import(editor: Editor, text: str, mode: str = "Replace") -> str:
    editor.tab("caption")
    editor.page.get_by_role("button", name=mode, exact=True).click()
    editor.page.locator(".ig4-import-text").fill(text)
    editor.page.get_by_role("button", name="Import", exact=True).click()
    editor.page.locator(".ig4-import-status").wait_for(state="attached")  # a merge shows the Elements tab
    return editor.page.locator(".ig4-import-result").evaluate("el => el.innerText || el.textContent")


def test_partial_import_reports_each_problem_by_path(editor: Editor):
    caption = {
        "compositional_deconstruction": {
            "background": "white",
            "elements": [GOOD, "not an element", {"type": "text", "bbox": [400, 100, 500, 900], "desc": "headline"}],
        }
    }
    report = run_import(editor, json.dumps(caption))
    assert "problems left to fix" in report or "problem left to fix" in report
    assert "compositional_deconstruction.elements[1] skipped: an element must be an object" in report
    assert "compositional_deconstruction.elements[1].text" in report  # the text element (now 2nd) lacks its text
    assert [e["desc"] for e in editor.elements()] == ["a lemon", "headline"]


def test_syntax_error_is_located_by_line_and_column(editor: Editor):
    text = '{\n  "compositional_deconstruction": {\n    "background": "white"\n    "elements": []\n  }\n}'
    report = run_import(editor, text)
    assert "Not imported" in report and "line 4, column 5" in report, report
    assert editor.elements() == []


def test_merge_adds_elements_and_fills_only_empty_fields(editor: Editor, make_document):
    editor.mount(make_document([GOOD], high_level_description="A kitchen still life."))
    incoming = {
        "high_level_description": "Something else.",
        "compositional_deconstruction": {
            "background": "a wooden table",
            "elements": [{"type": "obj", "bbox": [500, 500, 700, 700], "desc": "a knife"}],
        },
    }
    report = run_import(editor, json.dumps(incoming), mode="Merge")
    assert report.startswith("Merged")
    caption = editor.caption()
    assert caption["high_level_description"] == "A kitchen still life."
    assert caption["compositional_deconstruction"]["background"] == "a wooden table"
    assert [e["desc"] for e in editor.elements()] == ["a lemon", "a knife"]
    editor.page.locator("canvas.ig4-canvas").focus()
    editor.page.keyboard.press("Control+z")
    assert [e["desc"] for e in editor.elements()] == ["a lemon"]


def test_paste_from_clipboard(browser, base_url):
    context = browser.new_context(viewport={"width": 1140, "height": 760})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    editor = Editor(context.new_page(), base_url).open()
    caption = {"compositional_deconstruction": {"background": "white", "elements": [GOOD]}}
    editor.page.evaluate("text => navigator.clipboard.writeText(text)", "```json\n" + json.dumps(caption) + "\n```")
    editor.tab("caption")
    editor.page.get_by_role("button", name="Paste from clipboard").click()
    editor.page.locator(".ig4-import-status.ok").wait_for()
    assert editor.caption() == caption
    context.close()
    assert not editor.errors


@pytest.mark.parametrize("template", TEMPLATES, ids=[t["id"] for t in TEMPLATES])
def test_template_insertion(editor: Editor, template):
    editor.tab("caption")
    editor.page.locator(f".ig4-template[data-template={template['id']}]").click()
    assert editor.caption() == template["caption"]
    editor.page.wait_for_function("document.querySelector('.ig4-status .ig4-pill').textContent.startsWith('✓ Valid')")
