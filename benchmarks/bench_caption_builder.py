"""Caption builder speed: ms per keystroke with 200 elements and undo memory after 200 edits, this editor vs the
first-generation one (the pack at --reference-rev, default bd9d4a1) in the same Chromium.

    python benchmarks/bench_caption_builder.py [--elements 200] [--keys 60] [--edits 200] [--reference-rev REV]

Keystroke: typing into the selected element's description, timed from the input event through every
synchronous handler (store, layers list, inspector, verifier, document write) plus the canvas repaint on the
next frame (validation, lint and the JSON view run when the browser is idle, after the frame). Undo memory: JS
heap growth (after forced GC) over 200 single-element edits, each its own undo step, without the fixture's log
of stored documents. Needs Playwright and Debian's chromium (see tests/chromium.py).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "web"))

from chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402
from conftest import FIXTURE, _Handler  # noqa: E402

FIRST_GENERATION = "bd9d4a1"

KEYSTROKES = """async (keys) => {
  const ed = window.editor;
  const el = ed.ctx.store.state.elements[100];
  ed.ctx.selection.set([el.id]);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const desc = [...document.querySelectorAll(".ig4-inspector textarea")].at(-1);
  desc.focus();
  const times = [];
  for (let i = 0; i < keys; i++) {
    const frameStart = new Promise((r) => requestAnimationFrame(() => r(performance.now())));
    const t0 = performance.now();
    desc.value += "a";
    desc.dispatchEvent(new Event("input", { bubbles: true }));
    const sync = performance.now() - t0;
    const frameEnd = new Promise((r) => requestAnimationFrame(() => r(performance.now())));
    const paint = (await frameEnd) - (await frameStart);
    times.push(sync + paint);
    await new Promise((r) => setTimeout(r, 5));
  }
  return times;
}"""

UNDO_MEMORY = """async (edits) => {
  // The test fixture logs every stored document (window.documents); that log is the page's, not the editor's.
  window.documents = { push: () => 0 };
  const store = window.editor.ctx.store;
  const settle = async () => {
    for (let i = 0; i < 3; i++) { window.gc(); await new Promise((r) => setTimeout(r, 50)); }
  };
  await settle();
  const before = performance.memory.usedJSHeapSize;
  const n = store.state.elements.length;
  for (let i = 0; i < edits; i++) store.update((s) => { s.elements[(i * 7) % n].desc += " and a little more"; });
  await settle();
  return { bytes: performance.memory.usedJSHeapSize - before, steps: edits };
}"""


def document(elements: int) -> str:
    """A realistic caption: text and object elements with descriptions and palettes."""
    items = []
    for i in range(elements):
        y, x = (i // 20) * 95, (i % 20) * 48
        box = [y, x, y + 90, x + 45]
        desc = f"element {i}: a small illustrated ornament with fine line work and a soft drop shadow"
        if i % 3 == 0:
            items.append({"type": "text", "bbox": box, "text": f"Label {i}", "desc": "bold serif " + desc})
        else:
            items.append({"type": "obj", "bbox": box, "desc": desc, "color_palette": ["#1F2A44", "#E8B04A"]})
    return json.dumps({"caption": {"compositional_deconstruction": {"background": "cream", "elements": items}}})


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def export_reference(rev: str, into: Path) -> Path:
    """The editor and its test fixture as they were at `rev`."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "web", "tests/web/fixture"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(browser, url: str, args: argparse.Namespace) -> dict:
    page = browser.new_page(viewport={"width": 1140, "height": 760})
    page.goto(f"{url}{FIXTURE}")
    page.wait_for_function("window.fixtureReady === true")
    page.evaluate("doc => window.mount(doc)", document(args.elements))
    page.wait_for_function(f"window.editor.ctx.store.state.elements.length === {args.elements}")
    times = page.evaluate(KEYSTROKES, args.keys)[5:]  # first few warm up the JIT
    undo = page.evaluate(UNDO_MEMORY, args.edits)
    page.close()
    return {"median_ms": statistics.median(times), "p90_ms": sorted(times)[int(0.9 * len(times))], **undo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elements", type=int, default=200)
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--reference-rev", default=FIRST_GENERATION)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    flags = [*CHROMIUM_ARGS, "--js-flags=--expose-gc", "--enable-precise-memory-info"]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=flags)
        results = {}
        for name, root in (("ours", REPO), ("first gen", export_reference(args.reference_rev, Path(tmp)))):
            server, url = serve(root)
            results[name] = measure(browser, url, args)
            server.shutdown()
        browser.close()
    print(f"{args.elements} elements, {args.keys} keystrokes, {args.edits} undo steps")
    print(f"{'editor':<10}{'ms/key median':>15}{'p90':>8}{'undo MB':>10}")
    for name, r in results.items():
        print(f"{name:<10}{r['median_ms']:>15.1f}{r['p90_ms']:>8.1f}{r['bytes'] / 1e6:>10.2f}")
    ours, ref = results["ours"], results["first gen"]
    print(
        f"ratio ours/first gen: keystroke {ours['median_ms'] / ref['median_ms']:.2f}, "
        f"undo memory {ours['bytes'] / max(1, ref['bytes']):.3f}"
    )
    print("targets: ≤ 16 ms per keystroke, ≤ 1 MB undo after 200 edits")


if __name__ == "__main__":
    main()
