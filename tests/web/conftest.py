"""Browser tests of the caption editor (web/lib), mounted without ComfyUI on tests/web/fixture/index.html.

Needs Playwright (``pip install playwright``) and a Chromium binary (``apt-get install chromium``; never
``playwright install``). Every test here skips with the reason when either is missing. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
from chromium import launch_chromium

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
FIXTURE = "/tests/web/fixture/index.html"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the repository; /scripts/* (ComfyUI's public modules) come from the stubs in fixture/comfy."""

    def translate_path(self, path):
        if path.startswith("/scripts/"):
            path = "/tests/web/fixture/comfy" + path
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def base_url():
    """The repository served read-only on 127.0.0.1 (random port)."""
    handler = functools.partial(_Handler, directory=str(REPO))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    yield from launch_chromium()


class Editor:
    """Drives the fixture page: coordinates are caption units (0..1000) on the editor canvas."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, document: str = "", width: int = 1024, height: int = 1024) -> Editor:
        self.page.goto(f"{self.base_url}{FIXTURE}?w={width}&h={height}")
        self.page.wait_for_function("window.fixtureReady === true")
        if document:
            self.mount(document)
        self.page.wait_for_function("document.querySelector('canvas.ig4-canvas').width > 0")
        return self

    def mount(self, document: str) -> None:
        self.page.evaluate("doc => window.mount(doc)", document)
        self.page.wait_for_function("document.querySelector('canvas.ig4-canvas').width > 0")

    def point(self, x: float, y: float) -> tuple[float, float]:
        box = self.page.locator("canvas.ig4-canvas").bounding_box()
        return box["x"] + box["width"] * x / 1000, box["y"] + box["height"] * y / 1000

    def drag(self, start, end, *, steps: int = 8, release: bool = True) -> None:
        self.page.mouse.move(*self.point(*start))
        self.page.mouse.down()
        self.page.mouse.move(*self.point(*end), steps=steps)
        if release:
            self.page.mouse.up()

    def click(self, x: float, y: float, modifiers: str | None = None) -> None:
        if modifiers:
            self.page.keyboard.down(modifiers)
        self.page.mouse.click(*self.point(x, y))
        if modifiers:
            self.page.keyboard.up(modifiers)

    def document(self) -> dict:
        """The stored document; before the first edit (empty) that is an empty caption."""
        text = self.page.evaluate("window.editor.getDocument()")
        return json.loads(text) if text else {"caption": {"compositional_deconstruction": {"elements": []}}}

    def caption(self) -> dict:
        return self.document().get("caption", {})

    def boxes(self) -> list[list[int]]:
        return [e.get("bbox") for e in self.caption()["compositional_deconstruction"]["elements"]]

    def elements(self) -> list[dict]:
        return self.caption()["compositional_deconstruction"]["elements"]

    def wait_guides(self, expected: str) -> None:
        """Wait until the painted snap guides are exactly `expected` ("x:300 y:100"; "" = none)."""
        self.page.wait_for_function(
            "want => document.querySelector('canvas.ig4-canvas').dataset.guides === want", arg=expected
        )

    def tab(self, name: str) -> None:
        self.page.locator(f".ig4-tab[data-tab={name}]").click()

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"editor_{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def editor(browser, base_url):
    page = browser.new_page(viewport={"width": 1140, "height": 760})
    ed = Editor(page, base_url).open()
    yield ed
    errors = ed.errors
    page.close()
    assert not errors, f"uncaught page errors: {errors}"


@pytest.fixture
def make_document():
    """Builds a stored editor document holding the given elements (and other top-level caption keys)."""

    def build(elements: list[dict], **extra) -> str:
        caption = {**extra, "compositional_deconstruction": {"background": "", "elements": elements}}
        return json.dumps({"caption": caption}, ensure_ascii=False)

    return build
