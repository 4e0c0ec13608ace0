"""Theme and access: ComfyUI's light and dark palettes (its CSS variables), names for every control, keyboard
reachable layer rows and colour chips, visible focus."""

from __future__ import annotations

from conftest import Editor

LIGHT = {
    "--comfy-menu-bg": "#ffffff",
    "--comfy-menu-secondary-bg": "#f4f4f4",
    "--comfy-input-bg": "#eeeeee",
    "--fg-color": "#222222",
    "--descrip-text": "#555555",
    "--border-color": "#cccccc",
}


def colour(page, selector: str, prop: str) -> str:
    return page.evaluate(f"getComputedStyle(document.querySelector({selector!r})).{prop}")


def test_follows_comfyuis_light_and_dark_palettes(editor: Editor):
    page = editor.page
    assert colour(page, ".ig4-editor", "backgroundColor") == "rgb(27, 27, 32)"  # no palette: the dark fallback
    page.evaluate(
        "vars => Object.entries(vars).forEach(([k, v]) => document.documentElement.style.setProperty(k, v))", LIGHT
    )
    assert colour(page, ".ig4-editor", "backgroundColor") == "rgb(255, 255, 255)"
    assert colour(page, ".ig4-toolbar", "backgroundColor") == "rgb(244, 244, 244)"
    assert colour(page, ".ig4-btn", "color") == "rgb(34, 34, 34)"
    button_bg = colour(page, ".ig4-btn", "backgroundColor")
    assert button_bg not in ("rgb(44, 44, 53)", "rgba(0, 0, 0, 0)"), "buttons keep a dark fill in the light theme"
    editor.shot("light_theme")


def test_every_control_has_a_name(editor: Editor, make_document):
    editor.mount(
        make_document([{"type": "obj", "bbox": [100, 100, 300, 300], "desc": "a box", "color_palette": ["#FF0000"]}])
    )
    editor.click(200, 200)
    unnamed = editor.page.evaluate(
        """() => [...document.querySelectorAll(['button', 'input', 'select', 'textarea', 'canvas']
                                               .map(t => `.ig4-editor ${t}`).join(', '))]
             .filter(el => el.offsetParent !== null || el.tagName === 'CANVAS')
             .filter(el => !(el.getAttribute('aria-label') || el.textContent.trim() || el.title
                              || el.closest('label') || el.placeholder))
             .map(el => el.outerHTML.slice(0, 120))"""
    )
    assert unnamed == []


def test_layer_rows_and_chips_work_from_the_keyboard(editor: Editor, make_document):
    editor.mount(
        make_document(
            [
                {"type": "obj", "bbox": [100, 100, 300, 300], "desc": "first", "color_palette": ["#FF0000", "#00FF00"]},
                {"type": "obj", "bbox": [500, 500, 700, 700], "desc": "second"},
            ]
        )
    )
    page = editor.page
    page.get_by_role("option", name="Element 1: first").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("window.editor.ctx.selection.ids.length") == 1
    page.get_by_role("option", name="Element 2: second").focus()
    page.keyboard.press("Shift+Enter")
    assert page.evaluate("window.editor.ctx.selection.ids.length") == 2
    page.get_by_role("option", name="Element 1: first").focus()
    page.keyboard.press("Enter")
    chip = page.locator(".ig4-inspector").get_by_role("button", name="Colour #00FF00 (Enter edits, Delete removes)")
    chip.focus()
    page.keyboard.press("Delete")
    assert editor.elements()[0]["color_palette"] == ["#FF0000"]


def test_keyboard_focus_is_visible(editor: Editor):
    page = editor.page
    page.get_by_role("button", name="Undo").focus()
    page.keyboard.press("Tab")  # keyboard focus: :focus-visible
    style = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert style == ["solid", "2px"], style
