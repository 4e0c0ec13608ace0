"""Scene & style fields, and the stacked layout of a narrow node."""

from __future__ import annotations


def test_scene_and_photo_style_fields(editor):
    editor.tab("scene")
    page = editor.page
    page.get_by_placeholder("One or two sentences").fill("A barista pouring latte art in a sunny café.")
    page.get_by_placeholder("What fills the frame").fill("a bright café counter with plants")
    page.get_by_role("button", name="Photo", exact=True).click()
    page.get_by_placeholder("mood, finish, overall look").fill("warm, candid, editorial")
    page.get_by_placeholder("golden hour, soft window light").fill("soft morning window light")
    page.get_by_placeholder("camera, lens, aperture, angle").fill("50mm, f/2, eye level")
    page.get_by_placeholder("photograph, oil painting").fill("photograph")
    caption = editor.caption()
    assert list(caption) == ["high_level_description", "style_description", "compositional_deconstruction"]
    assert list(caption["style_description"]) == ["aesthetics", "lighting", "photo", "medium"]
    assert caption["compositional_deconstruction"]["background"] == "a bright café counter with plants"
    editor.shot("scene_photo")
    page.get_by_role("button", name="Art style").click()
    assert list(editor.caption()["style_description"]) == ["aesthetics", "lighting", "medium", "art_style"]
    page.get_by_role("button", name="No style").click()
    assert "style_description" not in editor.caption()


def test_narrow_node_stacks_canvas_over_panels(editor):
    editor.page.evaluate("document.getElementById('host').style.width = '520px'")
    editor.page.wait_for_function("document.querySelector('.ig4-editor').classList.contains('ig4-narrow')")
    editor.page.wait_for_timeout(100)
    editor.drag((200, 200), (800, 600))
    assert editor.boxes() == [[200, 200, 600, 800]]
    canvas = editor.page.locator("canvas.ig4-canvas").bounding_box()
    side = editor.page.locator(".ig4-side").bounding_box()
    assert side["y"] >= canvas["y"] + canvas["height"]
    editor.shot("narrow")
