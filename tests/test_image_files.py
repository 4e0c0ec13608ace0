"""Pictures and masks from disk in every common mode, bad files, reference images as data URLs, and caption
elements picked by number."""

import base64
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ideogram4_core.caption.elements import element_boxes, parse_element_numbers
from ideogram4_core.errors import CaptionError, Ideogram4Error
from ideogram4_core.image_files import load_data_url, load_mask, load_picture

RGB = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], dtype=np.uint8)


def _save(tmp_path: Path, image: Image.Image, name: str) -> Path:
    path = tmp_path / name
    image.save(path)
    return path


@pytest.mark.parametrize("mode", ["RGB", "CMYK", "P", "L", "LA", "RGBA", "1"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    source = Image.fromarray(RGB).convert(mode)
    picture = load_picture(_save(tmp_path, source, "p.tiff" if mode == "CMYK" else "p.png"))
    expected = np.asarray(source.convert("RGB"), dtype=np.float32) / 255
    assert picture.rgb.shape == (2, 2, 3) and picture.size == (2, 2)
    np.testing.assert_allclose(picture.rgb.numpy(), expected, atol=1 / 255)
    assert (picture.alpha is not None) == (mode in ("LA", "RGBA"))


def test_sixteen_bit_grey_keeps_its_precision(tmp_path):
    values = np.array([[0, 1000], [32768, 65535]], dtype=np.uint16)
    picture = load_picture(_save(tmp_path, Image.fromarray(values), "g16.png"))
    np.testing.assert_allclose(picture.rgb[..., 0].numpy(), values / 65535, rtol=1e-6)
    assert torch.equal(picture.rgb[..., 0], picture.rgb[..., 2])


def test_alpha_and_palette_transparency(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 3] = [[255, 0], [128, 255]]
    picture = load_picture(_save(tmp_path, Image.fromarray(rgba, "RGBA"), "a.png"))
    np.testing.assert_allclose(picture.alpha.numpy(), [[1, 0], [128 / 255, 1]], rtol=1e-6)
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 255, 255, 255])
    palette.putpixel((1, 0), 1)
    palette.info["transparency"] = 1
    assert load_picture(_save(tmp_path, palette, "p.png")).alpha.tolist() == [[1.0, 0.0]]


def test_masks_white_repaints_and_alpha_counts(tmp_path):
    grey = np.array([[0, 255], [128, 255]], dtype=np.uint8)
    np.testing.assert_allclose(load_mask(_save(tmp_path, Image.fromarray(grey), "m.png")).numpy(), grey / 255)
    rgba = np.full((2, 2, 4), 255, dtype=np.uint8)
    rgba[0, 0, 3] = 0  # painted away in the mask editor: repaint
    assert load_mask(_save(tmp_path, Image.fromarray(rgba, "RGBA"), "ma.png")).tolist() == [[1, 0], [0, 0]]
    sixteen = np.array([[0, 65535]], dtype=np.uint16)
    assert load_mask(_save(tmp_path, Image.fromarray(sixteen), "m16.png")).tolist() == [[0.0, 1.0]]


def test_bad_files_get_one_clear_message(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(Ideogram4Error, match=r"mask .* is not an image"):
        load_mask(text)
    good = _save(tmp_path, Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)), "cut.png")
    cut = tmp_path / "truncated.png"
    cut.write_bytes(good.read_bytes()[:60])
    with pytest.raises(Ideogram4Error, match="damaged or truncated"):
        load_picture(cut)
    with pytest.raises(Ideogram4Error, match="does not exist"):
        load_picture(tmp_path / "missing.png")


def test_a_picture_too_large_to_edit_is_refused_before_decoding(tmp_path, monkeypatch):
    """Above the ceiling (about 16k × 16k) the header's size is enough to stop; smaller pictures encode in tiles."""
    path = _save(tmp_path, Image.new("RGB", (64, 48)), "big.png")
    monkeypatch.setattr("ideogram4_core.image_files.MAX_PIXELS", 64 * 48 - 1)
    for load in (load_picture, load_mask):
        with pytest.raises(
            Ideogram4Error, match=r"^The \w+ \S+ is 64×48, too large to edit; scale it down to at most 2048"
        ):
            load(path)


def _data_url(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = BytesIO()
    image.save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_data_urls_decode_like_the_file(tmp_path, fmt):
    source = Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8))
    picture = load_data_url(_data_url(source, fmt))
    path = _save(tmp_path, source, f"p.{fmt.lower()}")
    assert picture.size == (20, 12) and picture.alpha is None
    assert torch.equal(picture.rgb, load_picture(path).rgb)
    rgba = load_data_url(_data_url(Image.new("RGBA", (3, 2), (10, 20, 30, 0))).replace("image/png", "IMAGE/PNG"))
    assert rgba.alpha.tolist() == [[0.0] * 3] * 2 and (rgba.rgb[0, 0] * 255).round().tolist() == [10, 20, 30]


def test_bad_data_urls_get_one_clear_message(monkeypatch):
    png = _data_url(Image.new("RGB", (64, 48)))
    cases = {
        "https://example.com/cat.png": "must be a base64 data URL of a PNG, JPEG or WebP",
        png.replace("image/png", "image/gif"): "must be a base64 data URL",
        png.replace(";base64", ""): "must be a base64 data URL",
        png[:-8] + "!!!!====": "base64 data is broken",
        "data:image/png;base64," + base64.b64encode(b"not a picture").decode(): "is not an image PIL can read",
        png[:80]: "damaged or truncated|base64 data is broken",
    }
    for url, message in cases.items():
        with pytest.raises(Ideogram4Error, match=rf"^The reference image.*({message})"):
            load_data_url(url)
    monkeypatch.setattr("ideogram4_core.image_files.MAX_DATA_URL_PIXELS", 64 * 48 - 1)
    with pytest.raises(
        Ideogram4Error, match=r"^The reference image \(data URL\) is 64×48, too large to describe; scale it down"
    ):
        load_data_url(png)
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (640, 640, 3), dtype=np.uint8))
    monkeypatch.setattr("ideogram4_core.image_files.MAX_DATA_URL_BYTES", 1 << 20)
    with pytest.raises(Ideogram4Error, match=r"^The reference image is 1\.2 MB, over the 1 MB limit; scale it down"):
        load_data_url(_data_url(noise))


CAPTION = (
    '{"compositional_deconstruction":{"background":"paper","elements":['
    '{"type":"text","bbox":[60,80,220,920],"text":"NIGHT SOUNDS","desc":"headline"},'
    '{"type":"obj","desc":"a guitar"},'
    '{"type":"obj","bbox":[820,150,900,850],"desc":"a date line"}]}}'
)


def test_element_numbers():
    assert parse_element_numbers("2,5") == parse_element_numbers(" 2, 5 ") == [2, 5]
    assert parse_element_numbers("3 1 3") == [3, 1]
    for bad in ("", "0", "two", "1,-2", "1.5"):
        with pytest.raises(CaptionError, match=r"element number|No element numbers"):
            parse_element_numbers(bad)


def test_element_boxes_and_their_errors():
    assert element_boxes(CAPTION, [3, 1]) == [[820, 150, 900, 850], [60, 80, 220, 920]]
    with pytest.raises(CaptionError, match=r"Element 4 does not exist: .* 3 element\(s\); pick one of 1–3"):
        element_boxes(CAPTION, [4])
    with pytest.raises(CaptionError, match=r"Element 2 .*'a guitar'.* has no box; draw a box for it in the Caption"):
        element_boxes(CAPTION, [1, 2])
    with pytest.raises(CaptionError, match="not JSON"):
        element_boxes("a poster with a headline", [1])
