"""Designer lint in the browser: web/lib/lint.mjs gives exactly what ideogram4_core.caption.lint gives on the
shared corpus (tests/caption_corpus/lint.json), and the editor shows the warnings beside the verdict."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Editor

from ideogram4_core.caption.lint import lint

CASES = json.loads((Path(__file__).parents[1] / "caption_corpus" / "lint.json").read_text(encoding="utf-8"))


def test_js_lint_is_the_python_twin_on_the_corpus(editor: Editor):
    got = editor.page.evaluate(
        """cases => import('/web/lib/lint.mjs').then(m =>
             cases.map(c => m.lintCaption(c.caption, c.width, c.height)))""",
        CASES,
    )
    for case, js in zip(CASES, got, strict=True):
        python = [p.to_dict() for p in lint(case["caption"], case["width"], case["height"])]
        assert js == python, case["name"]
        assert [p["path"] for p in js] == [w[0] for w in case["warnings"]], case["name"]


def test_editor_shows_lint_warnings_and_follows_the_image_size(editor: Editor, make_document):
    small = {"type": "text", "bbox": [600, 100, 630, 500], "text": "OPEN", "desc": "sans"}
    editor.mount(make_document([small]))
    page = editor.page
    verdict = page.locator(".ig4-status .ig4-pill").first
    page.wait_for_function("document.querySelector('.ig4-status .ig4-pill').textContent.startsWith('✓ Valid')")
    assert "warning" not in verdict.text_content()  # at 1024×1024 the letters are about 17 px
    page.evaluate("window.editor.setAspect(512, 512)")
    page.wait_for_function("document.querySelector('.ig4-status .ig4-pill').textContent.includes('1 warning')")
    editor.tab("caption")
    item = page.locator(".ig4-problem.warning")
    assert "text may be too small to render legibly" in item.inner_text()
    assert "8 px" in item.inner_text()
