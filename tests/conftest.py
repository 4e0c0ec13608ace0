"""Suite-wide: one summary line of what was skipped and why; a skip that hides missing set-up fails the run.

Documented skips are the e2e tests without a ComfyUI tree and GPU-only paths on a machine without CUDA. Any
other skip (a missing browser, package or file) means the machine is not set up as the README says, so the
run fails and names it.

Also: the repository root is collected as a plain folder. Its `__init__.py` is ComfyUI's entry point (relative
imports) and a clone's folder is often not a Python name (`ComfyUI-Ideogram4`), so pytest could not import it as
a package and every test would error; no test needs it imported.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

DOCUMENTED_SKIPS = {
    "COMFYUI_PATH": "e2e (no ComfyUI tree: set COMFYUI_PATH, see tests/e2e/README.md)",
    "CUDA": "GPU-only (no CUDA device)",
}
_skips: list[tuple[str, str]] = []
REPO = Path(__file__).resolve().parents[1]


class _RootAsFolder:
    """Collects the repository root as a `pytest.Dir` (a plugin: a conftest cannot decide its own folder)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        return pytest.Dir.from_parent(parent, path=path) if path == REPO else None


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_RootAsFolder(), "ideogram4-root-as-folder")


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def _category(reason: str) -> str | None:
    return next((label for key, label in DOCUMENTED_SKIPS.items() if key in reason), None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skips.append((report.nodeid, _reason(report)))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:
        _skips.append((report.nodeid, _reason(report)))


def _undocumented() -> list[tuple[str, str]]:
    return [(node, reason) for node, reason in _skips if _category(reason) is None]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _undocumented() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _skips:
        terminalreporter.write_line("skipped: nothing")
        return
    counts = Counter(_category(reason) or "undocumented" for _, reason in _skips)
    terminalreporter.write_line("skipped: " + "; ".join(f"{n} {label}" for label, n in counts.items()))
    undocumented = _undocumented()
    if undocumented:
        terminalreporter.write_line(
            f"FAILED: {len(undocumented)} skip(s) hide missing set-up (install what the README says):", red=True
        )
        for reason, n in Counter(reason for _, reason in undocumented).most_common():
            terminalreporter.write_line(f"  {n} × {reason}", red=True)
