"""Palettes: hex paste, caps (5 per element, 16 for the style) enforced in the UI, reorder, remove."""

from __future__ import annotations

COLORS = [f"#{i:02X}{255 - i * 10:02X}{i * 12:02X}" for i in range(1, 18)]


def palette_in(editor, scope: str):
    return editor.page.locator(f"{scope} .ig4-palette")


def paste_colors(palette, colors: list[str]) -> None:
    field = palette.locator(".ig4-hex-input")
    field.fill(", ".join(colors))
    field.press("Enter")


def test_element_palette_refuses_sixth_colour(editor):
    editor.drag((100, 100), (500, 500))
    palette = palette_in(editor, ".ig4-inspector")
    paste_colors(palette, COLORS[:5])
    assert editor.elements()[0]["color_palette"] == COLORS[:5]
    assert palette.locator(".ig4-count").inner_text() == "5/5"
    assert palette.locator(".ig4-add").is_disabled()
    paste_colors(palette, [COLORS[5]])
    assert editor.elements()[0]["color_palette"] == COLORS[:5]
    assert "At most 5" in palette.locator(".ig4-note").inner_text()
    editor.shot("element_palette_full")


def test_style_palette_refuses_seventeenth_colour(editor):
    editor.tab("scene")
    editor.page.get_by_role("button", name="Art style").click()
    palette = palette_in(editor, ".ig4-style-body")
    paste_colors(palette, COLORS)  # 17 at once: the first 16 are kept
    style = editor.caption()["style_description"]
    assert style["color_palette"] == COLORS[:16]
    assert "1 not added" in palette.locator(".ig4-note").inner_text()
    assert palette.locator(".ig4-chip").count() == 16
    editor.shot("style_palette_full")


def test_hex_paste_normalises_and_chips_reorder_and_remove(editor):
    editor.drag((100, 100), (500, 500))
    palette = palette_in(editor, ".ig4-inspector")
    paste_colors(palette, ["#abc", "ff8800", "rgb(0, 128, 255)"])
    assert editor.elements()[0]["color_palette"] == ["#AABBCC", "#FF8800", "#0080FF"]
    chips = palette.locator(".ig4-chip")
    first, last = chips.nth(0).bounding_box(), chips.nth(2).bounding_box()
    mouse = editor.page.mouse
    mouse.move(first["x"] + 13, first["y"] + 13)
    mouse.down()
    mouse.move(last["x"] + 20, last["y"] + 13, steps=6)
    mouse.up()
    assert editor.elements()[0]["color_palette"] == ["#FF8800", "#0080FF", "#AABBCC"]
    chips.nth(1).hover()
    chips.nth(1).locator(".ig4-chip-x").click()
    assert editor.elements()[0]["color_palette"] == ["#FF8800", "#AABBCC"]


def test_picker_edits_a_chip(editor):
    editor.drag((100, 100), (500, 500))
    palette = palette_in(editor, ".ig4-inspector")
    paste_colors(palette, ["#112233"])
    picker = palette.locator("input[type=color]")
    palette.locator(".ig4-chip").first.click()  # a click (no drag) opens the picker for that chip
    picker.evaluate("(el) => { el.value = '#a1b2c3'; el.dispatchEvent(new Event('input')); }")
    assert editor.elements()[0]["color_palette"] == ["#A1B2C3"]
