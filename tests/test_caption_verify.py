"""Strict verification: the verdict corpus (official CaptionVerifier rules), schema and problem details."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ideogram4_core.caption import caption_schema, verify, verify_text

CORPUS = json.loads((Path(__file__).parent / "caption_corpus" / "corpus.json").read_text(encoding="utf-8"))


def _text(entry: dict) -> str:
    caption = entry["caption"]
    return caption if isinstance(caption, str) else json.dumps(caption, ensure_ascii=False)


@pytest.mark.parametrize("entry", CORPUS, ids=[e["name"] for e in CORPUS])
def test_corpus_verdict_and_paths(entry: dict) -> None:
    result = verify_text(_text(entry))
    assert result.valid == entry["valid"]
    assert sorted({p.path for p in result.problems if p.severity == "error"}) == entry["paths"]
    assert sorted({p.path for p in result.problems if p.severity == "warning"}) == entry["warnings"]


def test_corpus_covers_both_verdicts() -> None:
    assert sum(e["valid"] for e in CORPUS) >= 15
    assert sum(not e["valid"] for e in CORPUS) >= 50


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(caption_schema())


@pytest.mark.parametrize("entry", [e for e in CORPUS if not e["valid"]], ids=lambda e: e["name"])
def test_every_problem_says_what_and_how(entry: dict) -> None:
    for problem in verify_text(_text(entry)).problems:
        assert problem.message and problem.fix
        assert problem.path in problem.line() or problem.path == ""


def test_bbox_order_message_names_the_values() -> None:
    caption = {
        "compositional_deconstruction": {
            "background": "",
            "elements": [{"type": "obj", "bbox": [10, 900, 20, 100], "desc": "x"}],
        }
    }
    (problem,) = verify(caption)
    assert problem.path == "compositional_deconstruction.elements[0].bbox"
    assert "x_min (900) is greater than x_max (100)" in problem.message


def test_alias_keys_get_a_rename_hint() -> None:
    caption = {"compositional_deconstruction": {"background": "", "elements": [{"type": "obj", "description": "x"}]}}
    fixes = {p.path: p.fix for p in verify(caption)}
    assert fixes["compositional_deconstruction.elements[0].description"] == 'rename it to "desc"'


def test_odd_keys_are_quoted_in_paths() -> None:
    (problem,) = verify({"compositional_deconstruction": {"background": "sky", "elements": []}, "my key": 1})
    assert problem.path == '["my key"]'


def test_escape_warning_only_without_literal_non_ascii() -> None:
    escaped = '{"compositional_deconstruction":{"background":"caf\\u00e9","elements":[]}}'
    assert [p.severity for p in verify_text(escaped).problems] == ["warning"]
    mixed = '{"compositional_deconstruction":{"background":"caf\\u00e9 é","elements":[]}}'
    assert verify_text(mixed).problems == []


def test_engine_rules_name_the_problem_and_the_fix() -> None:
    """Empty caption, empty literal text and zero-area boxes: errors (beyond the official verifier)."""
    empty = verify({"compositional_deconstruction": {"background": " ", "elements": []}})
    assert [(p.path, p.severity) for p in empty] == [("", "error")] and "empty" in empty[0].message
    text = {"type": "text", "bbox": [0, 0, 100, 100], "text": "", "desc": "title"}
    line = {"type": "obj", "bbox": [100, 300, 400, 300], "desc": "a line"}
    caption = {"compositional_deconstruction": {"background": "", "elements": [text, line]}}
    problems = {p.path: p for p in verify(caption)}
    assert problems["compositional_deconstruction.elements[0].text"].message == "the literal text is empty"
    zero = problems["compositional_deconstruction.elements[1].bbox"]
    assert "zero width" in zero.message and "x_max greater than x_min" in zero.fix
