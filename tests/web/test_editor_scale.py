"""Fifty elements: the editor loads them, and a drag, a multi-select move and undo stay quick."""

from __future__ import annotations

import time

GENEROUS_SECONDS = 10.0  # a drag takes well under a second; this bound only catches hangs


def fifty_elements() -> list[dict]:
    elements = []
    for i in range(50):
        row, col = divmod(i, 10)
        y, x = 20 + row * 195, 10 + col * 99
        kind = "text" if i % 4 == 0 else "obj"
        el = {"type": kind, "bbox": [y, x, y + 150, x + 80]}
        if kind == "text":
            el["text"] = f"T{i}"
        el |= {"desc": f"element number {i} with a longer description", "color_palette": ["#335577", "#EEDDCC"]}
        elements.append(el)
    return elements


def test_fifty_elements_stay_responsive(editor, make_document):
    editor.mount(make_document(fifty_elements()))
    assert editor.page.locator(".ig4-layer").count() == 50
    editor.click(50, 95)
    started = time.perf_counter()
    editor.drag((50, 95), (530, 560), steps=30)
    drag_seconds = time.perf_counter() - started
    assert editor.boxes()[0] != [20, 10, 170, 90]
    editor.page.keyboard.press("Control+a")
    started = time.perf_counter()
    for _ in range(20):
        editor.page.keyboard.press("Shift+ArrowDown")
    nudge_seconds = time.perf_counter() - started
    frame_ms = editor.page.evaluate(
        """() => new Promise(resolve => {
            const t0 = performance.now();
            window.editor.ctx.store.update(s => { s.elements[1].bbox[0] += 1; }, { transient: true });
            requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
        })"""
    )
    editor.shot("fifty_elements")
    print(f"50 elements: drag {drag_seconds:.2f}s, 20 nudges {nudge_seconds:.2f}s, update+frame {frame_ms:.1f}ms")
    assert drag_seconds < GENEROUS_SECONDS
    assert nudge_seconds < GENEROUS_SECONDS
    assert editor.page.get_by_title("Undo (Ctrl+Z)").is_enabled()
