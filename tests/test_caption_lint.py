"""Designer lint (ideogram4_core.caption.lint) on the shared corpus tests/caption_corpus/lint.json; the
browser twin (web/lib/lint.mjs) is held to the same corpus and to this module's exact output in
tests/web/test_editor_lint.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ideogram4_core.caption import build_caption
from ideogram4_core.caption.lint import contrast_ratio, glyph_px, lint

CASES = json.loads((Path(__file__).parent / "caption_corpus" / "lint.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_lint_corpus(case):
    got = lint(case["caption"], case["width"], case["height"])
    assert [p.path for p in got] == [w[0] for w in case["warnings"]]
    for problem, (_, start) in zip(got, case["warnings"], strict=True):
        assert problem.message.startswith(start), problem.message
        assert problem.severity == "warning" and problem.fix


def test_glyph_height_model():
    # One word on one line: the box height bounds the size (1.2 em line), letters are 0.7 em.
    assert glyph_px("HI", 1000, 120) == pytest.approx(0.7 * 100)
    # The longest word must fit the width at 0.55 em per character.
    assert glyph_px("ABCDEFGHIJ", 55, 1000) == pytest.approx(0.7 * 10)
    # Many characters: the area bounds it (each character takes 0.55 × 1.2 em²).
    assert glyph_px(" ".join(["ab"] * 50), 300, 300) == pytest.approx(0.7 * (300 * 300 / (0.66 * 149)) ** 0.5)


def test_contrast_ratio_matches_wcag_extremes():
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21)
    assert contrast_ratio("#777777", "#777777") == 1


def test_builder_node_lists_lint_warnings_beside_the_verdict():
    caption = {
        "compositional_deconstruction": {
            "background": "white",
            "elements": [
                {
                    "type": "text",
                    "bbox": [800, 100, 820, 600],
                    "text": "Terms and conditions apply",
                    "desc": "small print",
                }
            ],
        }
    }
    result = build_caption(json.dumps({"caption": caption}), 1024, 1024, strict=True)
    assert any(
        line.startswith("warning: compositional_deconstruction.elements[0]: text may be too small")
        for line in result.lines
    )
