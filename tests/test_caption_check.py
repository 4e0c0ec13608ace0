"""Token counts, check_caption / check_request output shape, and the validate command's exit codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ideogram4_core.caption import MAX_TOKENS, check_caption, check_request, count_tokens, dumps_canonical
from ideogram4_core.cli import validate
from ideogram4_core.models.tokenizer import bundled_tokenizer_dir

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = bundled_tokenizer_dir()
CORPUS = json.loads((ROOT / "tests" / "caption_corpus" / "corpus.json").read_text(encoding="utf-8"))
PHOTO = next(e["caption"] for e in CORPUS if e["name"] == "photo_full")


def test_exact_count_matches_transformers_qwen2_tokenizer() -> None:
    transformers = pytest.importorskip("transformers")
    reference = transformers.Qwen2TokenizerFast.from_pretrained(str(TOKENIZER))
    for entry in CORPUS[:20]:
        text = entry["caption"] if isinstance(entry["caption"], str) else dumps_canonical(entry["caption"])
        prompt = f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
        expected = len(reference(prompt, add_special_tokens=False)["input_ids"])
        tokens = count_tokens(text, TOKENIZER)
        assert tokens.exact and tokens.count == expected and tokens.label == str(expected)


def test_estimate_is_labelled_and_close() -> None:
    tokens = count_tokens(dumps_canonical(PHOTO))
    assert not tokens.exact and tokens.label.startswith("≈") and tokens.note
    assert 300 <= tokens.count <= 380  # the exact count is 334


def test_broken_tokenizer_folder_falls_back_to_estimate(tmp_path: Path) -> None:
    tokens = count_tokens("{}", tmp_path)
    assert not tokens.exact and str(tmp_path) in tokens.note


def test_check_caption_shape() -> None:
    result = check_caption(json.dumps(PHOTO)).to_dict()
    assert set(result) == {
        "valid", "problems", "repairs", "canonical", "canonical_valid", "canonical_problems", "tokens",
    }  # fmt: skip
    assert result["valid"] and result["canonical_valid"] and result["problems"] == []
    assert result["canonical"] == dumps_canonical(PHOTO)
    assert set(result["tokens"]) == {"count", "exact", "label", "limit", "note"}
    assert result["tokens"]["limit"] == MAX_TOKENS


def test_check_caption_reports_input_problems_and_repairs() -> None:
    text = json.dumps({"aspect_ratio": "1:1", "compositional_deconstruction": {"background": "b", "elements": []}})
    result = check_caption(text).to_dict()
    assert not result["valid"] and result["canonical_valid"]
    assert result["problems"][0] == {
        "path": "aspect_ratio",
        "message": 'unknown key "aspect_ratio"',
        "fix": 'remove it ("v15" dialect): the image size comes from width and height',
        "severity": "error",
    }
    assert result["repairs"][0]["path"] == "aspect_ratio"
    assert result["canonical"] == '{"compositional_deconstruction":{"background":"b","elements":[]}}'


def test_too_many_tokens_is_an_error_when_exact() -> None:
    long = {"compositional_deconstruction": {"background": "word " * 2100, "elements": []}}
    exact = check_caption(json.dumps(long), tokenizer_dir=TOKENIZER)
    assert not exact.valid and exact.tokens.count > MAX_TOKENS
    assert not check_caption(json.dumps(long)).valid  # estimated ≈3000: surely over the limit
    marginal = {"compositional_deconstruction": {"background": "word " * 1500, "elements": []}}
    estimated = check_caption(json.dumps(marginal))
    assert estimated.tokens.count > MAX_TOKENS and not estimated.tokens.exact
    assert estimated.valid and any(p.severity == "warning" for p in estimated.problems)
    assert check_caption(json.dumps(marginal), tokenizer_dir=TOKENIZER).tokens.count < MAX_TOKENS


def test_check_request() -> None:
    status, body = check_request({"caption": PHOTO})
    assert status == 200 and body["valid"]
    status, body = check_request({"caption": json.dumps(PHOTO), "width": 1024, "height": 768})
    assert status == 200 and body["valid"]
    for bad in ([], {"text": "x"}, {"caption": "{}", "width": 1024}, {"caption": "{}", "width": "1", "height": 2}):
        status, body = check_request(bad)
        assert status == 400 and body["error"]


def _validate(path: Path, *extra: str) -> int:
    parser = argparse.ArgumentParser()
    validate.add_parser(parser.add_subparsers())
    args = parser.parse_args(["validate", str(path), *extra])
    return args.run(args)


def test_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(PHOTO, ensure_ascii=False), encoding="utf-8")
    bad.write_text(json.dumps({**PHOTO, "aspect_ratio": "1:1"}), encoding="utf-8")
    assert _validate(good) == 0
    assert capsys.readouterr().out.rstrip().endswith("valid")
    assert _validate(bad) == 1
    out = capsys.readouterr().out
    assert "error: aspect_ratio: unknown key" in out and "repair: aspect_ratio" in out
    assert _validate(tmp_path / "missing.json") == 2
    (tmp_path / "latin1.json").write_bytes(b'{"a": "\xe9"}')
    assert _validate(tmp_path / "latin1.json") == 2


def test_validate_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.json"
    path.write_text("not json", encoding="utf-8")
    assert _validate(path, "--json") == 1
    assert json.loads(capsys.readouterr().out)["canonical"] == ""


@pytest.mark.skipif(not (ROOT / "ideogram4_core" / "__main__.py").exists(), reason="CLI entry not wired yet")
def test_validate_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(PHOTO), encoding="utf-8")
    command = [sys.executable, "-m", "ideogram4_core", "validate"]
    assert subprocess.run([*command, str(path)], cwd=ROOT, capture_output=True).returncode == 0
    path.write_text("{}", encoding="utf-8")
    assert subprocess.run([*command, str(path)], cwd=ROOT, capture_output=True).returncode == 1
    assert subprocess.run([*command, str(tmp_path / "nope.json")], cwd=ROOT, capture_output=True).returncode == 2
