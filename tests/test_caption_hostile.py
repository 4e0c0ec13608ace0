"""Hostile caption text: runaway nesting, megabyte pastes, duplicate keys; and non-files given as models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ideogram4_core.caption import check_caption, check_request, import_caption, verify_text
from ideogram4_core.cli import main
from ideogram4_core.errors import ModelFileError
from ideogram4_core.weights.safetensors_io import read_header

CORPUS = json.loads((Path(__file__).parent / "caption_corpus" / "corpus.json").read_text(encoding="utf-8"))
PHOTO = next(e["caption"] for e in CORPUS if e["name"] == "photo_full")
DEEP = "[" * 100_000 + "]" * 100_000


def _validate(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "caption.json"
    path.write_text(text, encoding="utf-8")
    code = main(["validate", str(path)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("text", [DEEP, '{"compositional_deconstruction": ' * 50_000 + "1" + "}" * 50_000])
def test_deep_nesting_is_a_clear_error_everywhere(text: str, tmp_path: Path, capsys) -> None:
    verdict = verify_text(text)
    assert not verdict.valid and verdict.caption is None
    assert "nested too deeply" in verdict.problems[-1].message
    imported = import_caption(text)
    assert imported.caption is None and any("nested too deeply" in p.message for p in imported.problems)
    status, payload = check_request({"caption": text})
    assert status == 200 and not payload["valid"] and not payload["canonical_valid"]
    code, out = _validate(tmp_path, text, capsys)
    assert code == 1 and "nested too deeply" in out


def test_moderate_nesting_past_the_limit_is_refused_before_the_schema() -> None:
    text = json.dumps({"compositional_deconstruction": {"background": "x", "elements": [[[[[[[[[[1]]]]]]]]]] * 4}})
    assert verify_text(text).valid is False
    deeper = "[" * 40 + "]" * 40
    assert "nested too deeply" in verify_text(deeper).problems[-1].message


def test_ten_megabyte_caption_is_invalid_and_answers_quickly(tmp_path: Path, capsys) -> None:
    caption = json.loads(json.dumps(PHOTO))
    caption["compositional_deconstruction"]["background"] = "sunlit brick wall " * 600_000  # ≈ 10.8 MB
    text = json.dumps(caption, ensure_ascii=False)
    started = time.perf_counter()
    check = check_caption(text, tokenizer_dir=Path(__file__))  # a tokenizer is configured, yet not needed
    assert time.perf_counter() - started < 30
    assert not check.tokens.exact and check.tokens.count > 4 * 2048
    assert not check.valid and not check.canonical_valid
    assert any(p.severity == "error" and "at most 2048" in p.message for p in check.problems)
    code, out = _validate(tmp_path, text, capsys)
    assert code == 1 and "at most 2048" in out


def test_estimate_just_over_the_limit_stays_a_warning() -> None:
    caption = json.loads(json.dumps(PHOTO))
    caption["compositional_deconstruction"]["background"] = "brick " * 1150  # ≈ 2.3 k estimated tokens
    check = check_caption(json.dumps(caption))  # no tokenizer: estimated only
    token_problems = [p for p in check.problems if "at most 2048" in p.message]
    assert not check.tokens.exact and 2048 < check.tokens.count < 2048 * 1.15
    assert [p.severity for p in token_problems] == ["warning"]


def test_duplicate_keys_are_named_with_their_path(tmp_path: Path, capsys) -> None:
    text = json.dumps(PHOTO, ensure_ascii=False)
    element = '{"type": "obj", "type": "obj", "bbox": [1, 2, 3, 4], "desc": "a", "desc": "b"}'
    text = text.replace('"elements": [', f'"elements": [{element}, ', 1)
    text = text.replace('{"high_level_description"', '{"high_level_description": "x", "high_level_description"', 1)
    verdict = verify_text(text)
    duplicates = [p for p in verdict.problems if "more than once" in p.message]
    assert not verdict.valid
    assert [(p.path, p.message.split('"')[1]) for p in duplicates] == [
        ("", "high_level_description"),
        ("compositional_deconstruction.elements[0]", "type"),
        ("compositional_deconstruction.elements[0]", "desc"),
    ]
    imported = import_caption(text)
    assert (
        imported.caption is not None and imported.caption["compositional_deconstruction"]["elements"][0]["desc"] == "b"
    )
    assert sum("more than once" in r.message for r in imported.repairs) == 3
    code, out = _validate(tmp_path, text, capsys)
    assert code == 1 and 'the key "desc" appears more than once' in out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_fifo_given_as_a_model_file_says_what_it_is(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match=r"is a FIFO \(named pipe\), not a model file"):
        read_header(fifo)
    assert main(["inspect", str(fifo)]) == 2
    assert "is a FIFO (named pipe)" in capsys.readouterr().err
    paths = ["--transformer", str(fifo), "--text-encoder", str(fifo), "--vae", str(fifo)]
    size = ["--width", "256", "--height", "256", "--output", str(tmp_path / "o.png")]
    command = [sys.executable, "-m", "ideogram4_core", "generate", *paths, "--caption", "x", *size]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2 and "FIFO (named pipe)" in result.stderr, result.stderr
    with pytest.raises(ModelFileError, match="File not found"):
        read_header(tmp_path / "missing.safetensors")
