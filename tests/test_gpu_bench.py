"""The GPU benchmark's `--tiny` mode runs on the CPU and prints a complete table (so the script never rots)."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_bench.py"
FORMATS = ("diffusers", "ours", "ours fp8", "ours nf4")
NUMBER = re.compile(r"^\d+(\.\d+)?(e-?\d+)?$")


def test_tiny_run_prints_every_row_with_numbers(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(BENCH), "--tiny"])
    runpy.run_path(str(BENCH), run_name="__main__")
    out = capsys.readouterr().out
    assert "ERROR" not in out
    rows = [line.strip("|").split("|") for line in out.splitlines() if line.startswith("| ") and "²" in line]
    seen = {(cells[0].strip().split(" (")[0], cells[1].strip()) for cells in rows}
    assert seen == {(fmt, f"{size}²") for fmt in FORMATS for size in (64, 128)}
    for cells in rows:
        values = [c.strip() for c in cells[2:]]
        numeric = values[:3] + values[4:-1]  # % of peak is "n/a" on the CPU
        assert all(NUMBER.match(v) for v in numeric), cells
        error = values[-1]  # relative error vs ours in the compute dtype: for the quantised formats only
        if cells[0].strip().startswith(("ours fp8", "ours nf4")):
            assert NUMBER.match(error) and 0 < float(error) < 0.5, cells
        else:
            assert error == "–", cells
        cond_ms, uncond_ms, _, d20 = (float(v) for v in numeric[:4])
        assert cond_ms > 0 and uncond_ms > 0
        assert abs(d20 - 20 * (cond_ms + uncond_ms) / 1000) < 0.02  # V4_DEFAULT_20: both branches every step
    assert re.search(re.escape("D20 speed-up diffusers / ours (same weights) = ") + r"\d", out)
