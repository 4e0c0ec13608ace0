"""Caption overlay: boxes land on the pixels their 0–1000 coordinates name; labels carry index, type and text."""

from PIL import Image

from ideogram4_core.caption.overlay import COLORS, draw_overlay, element_boxes, pixel_box

CAPTION = {
    "compositional_deconstruction": {
        "background": "plain",
        "elements": [
            {"type": "obj", "bbox": [100, 250, 500, 750], "desc": "a red ball"},
            {"type": "obj", "desc": "no box, not drawn"},
            {"type": "text", "bbox": [700, 0, 1000, 1000], "text": "SALE", "desc": "bold"},
        ],
    }
}
BLACK = (0, 0, 0)


def test_pixel_box_maps_thousandths_to_inclusive_pixels():
    assert pixel_box([100, 250, 500, 750], 400, 200) == (100, 20, 299, 99)
    assert pixel_box([0, 0, 1000, 1000], 400, 200) == (0, 0, 399, 199)
    assert pixel_box([500, 500, 500, 500], 400, 200) == (200, 100, 200, 100)  # degenerate: one pixel
    assert pixel_box([-5, 0, 1200, 1000], 10, 10) == (0, 0, 9, 9)  # clamped


def test_element_boxes_skip_elements_without_a_usable_box():
    boxes = element_boxes(CAPTION, 400, 200)
    assert [(b.index, b.kind) for b in boxes] == [(0, "obj"), (2, "text")]
    assert boxes[0].label == "#0 obj: a red ball" and boxes[1].label == '#2 text: "SALE"'
    assert element_boxes("not a caption", 400, 200) == [] and element_boxes({"elements": 3}, 4, 4) == []
    bad = {"compositional_deconstruction": {"elements": [{"type": "obj", "bbox": [1, 2, 3]}]}}
    assert element_boxes(bad, 400, 200) == []


def test_box_outlines_land_on_the_expected_pixels():
    image = draw_overlay(Image.new("RGB", (400, 200)), CAPTION)
    color = COLORS[0]
    for edge in [(100, 60), (101, 60), (299, 60), (298, 60), (200, 20), (200, 21), (200, 99), (200, 98)]:
        assert image.getpixel(edge) == color, edge
    for outside in [(99, 60), (300, 60), (200, 100), (102, 60), (297, 60), (200, 22), (200, 97), (200, 60)]:
        assert image.getpixel(outside) == BLACK, outside
    # The label sits above the box, in the box's colour.
    assert image.getpixel((101, 15)) == color
    assert image.getpixel((101, 60)) == color and image.getpixel((150, 60)) == BLACK


def test_a_box_at_the_top_gets_its_label_inside_and_the_input_is_untouched():
    source = Image.new("RGB", (400, 200))
    caption = {"compositional_deconstruction": {"elements": [{"type": "obj", "bbox": [0, 0, 1000, 1000], "desc": "x"}]}}
    image = draw_overlay(source, caption)
    crop = image.crop((2, 2, 30, 10))
    label = [crop.getpixel((x, y)) for x in range(crop.width) for y in range(crop.height)]
    assert sum(p == COLORS[0] for p in label) > len(label) / 2  # label inside, under the top edge
    assert image.getpixel((399, 199)) == COLORS[0] and image.getpixel((200, 150)) == BLACK
    assert source.getpixel((0, 0)) == BLACK


def test_long_labels_are_cut_to_the_image_width():
    caption = {
        "compositional_deconstruction": {
            "elements": [{"type": "obj", "bbox": [500, 900, 600, 1000], "desc": "w" * 200}]
        }
    }
    image = draw_overlay(Image.new("RGB", (400, 200)), caption)
    assert image.getpixel((399, 95)) in (COLORS[0], (255, 255, 255))  # label reaches the right edge, no further
