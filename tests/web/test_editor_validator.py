"""The JS verifier agrees with the Python one (ideogram4_core.caption) on the shared corpus; token estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ideogram4_core.models.tokenizer import bundled_tokenizer_dir

CORPUS = Path(__file__).resolve().parents[1] / "caption_corpus" / "corpus.json"


def corpus_cases() -> list[dict]:
    if not CORPUS.exists():
        return []
    return json.loads(CORPUS.read_text(encoding="utf-8"))


def as_text(caption) -> str:
    return caption if isinstance(caption, str) else json.dumps(caption, ensure_ascii=False)


def paths(problems, severity: str) -> list[str]:
    return sorted({p["path"] for p in problems if p["severity"] == severity})


@pytest.fixture(scope="module")
def js_verdicts(browser, base_url):
    """The JS verifier's verdict on every corpus case, computed in one page."""
    from conftest import Editor

    cases = corpus_cases()
    if not cases:
        pytest.skip(f"no caption corpus at {CORPUS}")
    page = browser.new_page()
    Editor(page, base_url).open()
    verdicts = page.evaluate(
        "texts => texts.map(t => window.ig4.validateCaption(t)).map(r => ({valid: r.valid, problems: r.problems}))",
        [as_text(c["caption"]) for c in cases],
    )
    page.close()
    return {c["name"]: v for c, v in zip(cases, verdicts, strict=True)}


@pytest.mark.parametrize("case", corpus_cases(), ids=lambda c: c["name"])
def test_js_verdict_matches_python_and_corpus(case, js_verdicts):
    caption_pkg = pytest.importorskip("ideogram4_core.caption", reason="the Python caption verifier is not importable")
    text = as_text(case["caption"])
    py = caption_pkg.verify_text(text)
    py_problems = [p.to_dict() for p in py.problems]
    js = js_verdicts[case["name"]]
    assert js["valid"] == py.valid == case["valid"]
    assert paths(js["problems"], "error") == paths(py_problems, "error") == sorted(case["paths"])
    assert paths(js["problems"], "warning") == paths(py_problems, "warning")


def test_corpus_present_or_skip():
    if not CORPUS.exists():
        pytest.skip(f"no caption corpus at {CORPUS}")
    assert corpus_cases(), "the corpus is empty"


def test_token_estimate_is_close_to_exact_count(editor):
    """The offline "≈" estimate is within 15 % of the Qwen tokenizer on realistic captions."""
    caption_pkg = pytest.importorskip("ideogram4_core.caption")
    tokenizer = bundled_tokenizer_dir()
    texts = [as_text(c["caption"]) for c in corpus_cases() if c["valid"] and len(as_text(c["caption"])) > 400]
    if not texts:
        pytest.skip("no long valid captions in the corpus")
    estimates = editor.page.evaluate("texts => texts.map(t => window.ig4.estimateCaptionTokens(t))", texts)
    for text, estimate in zip(texts, estimates, strict=True):
        exact = caption_pkg.count_tokens(text, tokenizer)
        assert exact.exact
        assert abs(estimate - exact.count) <= 0.15 * exact.count, (estimate, exact.count)


TEXT_CASES = [c for c in corpus_cases() if isinstance(c["caption"], str)]


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c["name"])
def test_js_forgiving_parse_matches_python_import(case, editor):
    """On text captions the JS fallback reads what the engine's forgiving import reads."""
    caption_pkg = pytest.importorskip("ideogram4_core.caption")
    py = caption_pkg.import_caption(case["caption"])
    js = editor.page.evaluate("t => window.ig4.forgivingParse(t)", case["caption"])
    assert (js["caption"] is None) == (py.caption is None)
    if py.caption is not None:
        assert caption_pkg.dumps_canonical(js["caption"]) == caption_pkg.dumps_canonical(py.caption)
