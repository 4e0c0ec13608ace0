"""Debian's Chromium driven by Playwright, shared by the editor and the real-ComfyUI browser tests.

Never `playwright install`: the browser is `apt-get install chromium` (or $CHROMIUM_PATH). Tests skip with the
reason when Playwright or Chromium is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """CHROMIUM_PATH, else the first chromium on PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch_chromium() -> Iterator:
    """Yield a launched browser (for a module-scoped fixture: a live sync Playwright owns the thread's event
    loop, which would break later asyncio-based tests and another suite's Playwright in the same session)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
