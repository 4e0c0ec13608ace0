"""The builder's template gallery (web/lib/templates.json): the six layouts the issue names, each valid for the
engine's verifier, free of designer lint at its own size, and in canonical key order (as the editor writes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ideogram4_core.caption import canonicalize, verify
from ideogram4_core.caption.lint import lint

TEMPLATES = json.loads(
    (Path(__file__).resolve().parents[1] / "web" / "lib" / "templates.json").read_text(encoding="utf-8")
)


def test_gallery_has_the_six_layouts():
    assert [t["id"] for t in TEMPLATES] == ["poster", "social", "banner", "label", "menu", "infographic"]


@pytest.mark.parametrize("template", TEMPLATES, ids=[t["id"] for t in TEMPLATES])
def test_template_is_valid_and_lint_free(template):
    caption = template["caption"]
    assert verify(caption) == []
    assert lint(caption, template["width"], template["height"]) == []
    assert json.dumps(canonicalize(caption)) == json.dumps(caption)
    assert template["width"] % 16 == 0 and template["height"] % 16 == 0
