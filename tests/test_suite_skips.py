"""The suite's skip policy (tests/conftest.py): documented skips summarised, any other skip fails the run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CASES = """
import pytest
def test_ok(): pass
def test_e2e(): pytest.skip("COMFYUI_PATH is not set (needs a ComfyUI checkout)")
def test_gpu(): pytest.skip("needs CUDA")
"""


def _run(tmp_path: Path, extra: str = "") -> subprocess.CompletedProcess[str]:
    shutil.copyfile(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_cases.py").write_text(CASES + extra, encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)


def test_documented_skips_pass_with_one_summary_line(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    summary = [line for line in result.stdout.splitlines() if line.startswith("skipped: ")]
    assert summary == [
        "skipped: 1 e2e (no ComfyUI tree: set COMFYUI_PATH, see tests/e2e/README.md); 1 GPU-only (no CUDA device)"
    ]


def test_a_skip_that_hides_missing_setup_fails_the_run(tmp_path: Path) -> None:
    result = _run(tmp_path, 'def test_browser(): pytest.skip("chromium is not installed")\n')
    assert result.returncode == pytest.ExitCode.TESTS_FAILED
    assert "1 skip(s) hide missing set-up" in result.stdout and "chromium is not installed" in result.stdout
