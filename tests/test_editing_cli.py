"""``generate --init-image``: img2img, inpainting with a mask (any size, alpha), element re-rendering,
outpainting, the composite outside the mask, sizes taken from the picture, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ideogram4_core.cli import main
from ideogram4_core.demo import write_demo_model

CAPTION = json.dumps(
    {
        "compositional_deconstruction": {
            "background": "paper",
            "elements": [
                {"type": "text", "bbox": [0, 0, 250, 500], "text": "HELLO", "desc": "headline"},
                {"type": "obj", "desc": "a kite"},
            ],
        }
    }
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return write_demo_model(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pictures") / "photo.png"
    pixels = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def run(capsys, repo: Path, out: Path, *extra) -> tuple[int, str]:
    argv = ["generate", "--model", repo, "--caption", CAPTION, "--preset", "V4_TURBO_12", "--output", out, *extra]
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_img2img_takes_the_size_from_the_picture_and_changes_with_denoise(capsys, repo, picture, tmp_path):
    distances = []
    for denoise in ("0.3", "1.0"):
        out = tmp_path / f"i2i_{denoise}.png"
        code, err = run(capsys, repo, out, "--init-image", picture, "--denoise", denoise)
        assert code == 0, err
        assert Image.open(out).size == (96, 64)
        distances.append(np.abs(pixels(out) - pixels(picture)).mean())
    assert distances[0] < distances[1], distances


def test_mask_of_another_size_keeps_every_pixel_outside_it(capsys, repo, picture, tmp_path):
    mask = np.zeros((32, 48), dtype=np.uint8)
    mask[:16, :24] = 255  # the top-left quarter, at half size
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "inpaint.png"
    code, err = run(capsys, repo, out, "--init-image", picture, "--mask", tmp_path / "mask.png")
    assert code == 0, err
    got, original = pixels(out), pixels(picture)
    assert np.array_equal(got[34:], original[34:]) and np.array_equal(got[:, 50:], original[:, 50:])
    assert np.abs(got[:30, :46] - original[:30, :46]).mean() > 5


def test_a_transparent_area_of_the_picture_is_the_mask(capsys, repo, picture, tmp_path):
    rgba = np.dstack([pixels(picture).astype(np.uint8), np.full((64, 96), 255, dtype=np.uint8)])
    rgba[:, 48:, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    out = tmp_path / "alpha.png"
    code, err = run(capsys, repo, out, "--init-image", tmp_path / "cutout.png", "--no-composite")
    assert code == 0, err
    assert np.abs(pixels(out)[:, 56:] - pixels(picture)[:, 56:]).mean() > 5


def test_sixteen_bit_grey_picture_with_a_palette_mask(capsys, repo, tmp_path):
    """Converted, not refused: a 16-bit grey picture is edited in RGB; a palette mask's white repaints."""
    grey = (np.linspace(0, 65535, 64 * 96).reshape(64, 96)).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    mask = Image.new("P", (96, 64))
    mask.putpalette([0, 0, 0, 255, 255, 255])
    mask.paste(1, (0, 0, 48, 32))  # the top-left quarter
    mask.save(tmp_path / "palette_mask.png")
    out = tmp_path / "grey_edit.png"
    code, err = run(capsys, repo, out, "--init-image", tmp_path / "grey16.png", "--mask", tmp_path / "palette_mask.png")
    assert code == 0, err
    got, original = pixels(out), np.round(grey / 257).astype(np.int16)[..., None].repeat(3, 2)
    assert np.array_equal(got[34:], original[34:]) and np.array_equal(got[:, 50:], original[:, 50:])
    assert np.abs(got[:30, :46] - original[:30, :46]).mean() > 5


def test_element_edit_repaints_only_its_box_with_the_margin(capsys, repo, picture, tmp_path):
    out = tmp_path / "element.png"
    code, err = run(capsys, repo, out, "--init-image", picture, "--edit-elements", "1", "--edit-margin", "8")
    assert code == 0, err
    got, original = pixels(out), pixels(picture)
    assert np.array_equal(got[24:], original[24:]) and np.array_equal(got[:, 56:], original[:, 56:])
    assert np.abs(got[:16, :48] - original[:16, :48]).mean() > 5
    code, err = run(capsys, repo, out, "--init-image", picture, "--edit-elements", "2")
    assert code == 2 and "Element 2 (obj 'a kite') has no box; draw a box for it in the Caption Builder" in err
    code, err = run(capsys, repo, out, "--init-image", picture, "--edit-elements", "3")
    assert code == 2 and "Element 3 does not exist" in err


def test_outpaint_enlarges_the_canvas_and_keeps_the_original(capsys, repo, picture, tmp_path):
    out = tmp_path / "outpaint.png"
    code, err = run(capsys, repo, out, "--init-image", picture, "--outpaint", "32,0,0,16")
    assert code == 0, err
    got = pixels(out)
    assert got.shape == (80, 128, 3) and np.array_equal(got[:64, 32:], pixels(picture))
    code, err = run(capsys, repo, out, "--init-image", picture, "--outpaint", "30,0,0,16")
    assert code == 2 and "use --outpaint 30,0,2,16" in err


def test_sizes_that_are_not_multiples_of_16(capsys, repo, tmp_path):
    odd = tmp_path / "odd.png"
    Image.new("CMYK", (100, 70), (0, 128, 0, 0)).save(odd.with_suffix(".jpg"))
    odd = odd.with_suffix(".jpg")
    out = tmp_path / "odd_out.png"
    code, err = run(capsys, repo, out, "--init-image", odd)
    assert code == 2 and err.count("error:") == 1
    assert "The picture is 100×70, but sides must be multiples of 16; pass --resize to resize it to 96×64" in err
    code, err = run(capsys, repo, out, "--init-image", odd, "--resize")
    assert code == 0, err
    assert Image.open(out).size == (96, 64)
    code, err = run(capsys, repo, out, "--init-image", odd, "--width", "64", "--height", "48")
    assert code == 0 and Image.open(out).size == (64, 48)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--denoise", "0"], "denoise must be in (0, 1] (got 0)"),
        (["--denoise", "1.5"], "denoise must be in (0, 1] (got 1.5)"),
        (["--mask", "{notes}"], "is not an image PIL can read"),
        (["--outpaint", "1,2,3"], "must be four pixel counts LEFT,TOP,RIGHT,BOTTOM"),
        (["--edit-elements", "one"], "'one' is not an element number"),
        (["--init-image", "{cut}"], "damaged or truncated"),
        (["--init-image", "{notes}"], "is not an image PIL can read"),
    ],
)
def test_bad_edit_input(capsys, repo, picture, tmp_path, extra, message):
    notes, cut = tmp_path / "notes.png", tmp_path / "cut.png"
    notes.write_text("not a picture")
    cut.write_bytes(picture.read_bytes()[:100])
    extra = [{"{notes}": str(notes), "{cut}": str(cut)}.get(e, e) for e in extra]
    code, err = run(capsys, repo, tmp_path / "x.png", "--init-image", picture, *extra)
    assert code == 2 and message in err and err.count("error:") == 1


def test_edit_options_need_a_picture_and_plain_runs_need_a_size(capsys, repo, tmp_path):
    code, err = run(capsys, repo, tmp_path / "x.png", "--mask", "m.png", "--width", "64", "--height", "64")
    assert code == 2 and "--mask needs --init-image" in err
    code, err = run(capsys, repo, tmp_path / "x.png")
    assert code == 2 and "Give --width and --height" in err
