"""Editing masks: token averaging, sizes and kinds, grow/feather, caption boxes, outpaint canvases, compositing."""

import pytest
import torch

from ideogram4_core.errors import Ideogram4Error
from ideogram4_core.sampling.masks import (
    as_batch,
    box_mask,
    composite,
    feather,
    fit,
    grow,
    outpaint_canvas,
    token_mask,
)


def test_token_mask_is_the_average_over_each_16x16_token():
    mask = torch.zeros(32, 48)
    mask[:16, :16] = 1.0  # token (0, 0) fully
    mask[:8, 16:32] = 1.0  # token (0, 1) half
    mask[16:20, 32:36] = 0.5  # token (1, 2): 16 of 256 pixels at 0.5
    tokens = token_mask(mask, (2, 3))
    assert tokens.shape == (1, 6)
    torch.testing.assert_close(tokens[0], torch.tensor([1.0, 0.5, 0.0, 0.0, 0.0, 16 * 0.5 / 256]))


@pytest.mark.parametrize("shape", [(32, 48), (1, 32, 48), (1, 1, 32, 48)])
def test_mask_layouts(shape):
    assert as_batch(torch.ones(shape)).shape == (1, 32, 48)
    with pytest.raises(Ideogram4Error, match="mask must be"):
        as_batch(torch.ones(2, 3, 32, 48))


def test_masks_of_any_size_are_resized_to_the_image():
    small = torch.zeros(1, 2, 3)
    small[0, 0, 0] = 1.0  # the top-left sixth of the picture
    big = fit(small, (48, 32))
    assert big.shape == (1, 32, 48)
    tokens = token_mask(small, (2, 3))
    assert tokens[0, 0] > 0.7 and tokens[0, 5] == 0.0
    huge = torch.zeros(1, 320, 480)
    huge[:, :160, :160] = 1.0
    torch.testing.assert_close(token_mask(huge, (2, 3))[0, :2], torch.tensor([1.0, 0.0]), atol=0.02, rtol=0)


def test_batches_of_masks_stay_per_image():
    masks = torch.zeros(2, 32, 48)
    masks[1, :, :16] = 1.0
    tokens = token_mask(masks, (2, 3))
    assert tokens.shape == (2, 6) and tokens[0].sum() == 0 and tokens[1].tolist() == [1, 0, 0, 1, 0, 0]


def test_grow_and_shrink():
    mask = torch.zeros(1, 20, 20)
    mask[:, 8:12, 8:12] = 1.0
    assert grow(mask, 2).sum() == 64 and grow(mask, 2)[0, 6, 6] == 1.0
    assert grow(mask, -1).sum() == 4
    assert torch.equal(grow(mask, 0), mask)


def test_feather_softens_only_the_edge():
    mask = torch.zeros(1, 40, 40)
    mask[:, 10:30, 10:30] = 1.0
    soft = feather(mask, 4)
    assert soft[0, 20, 20].item() == pytest.approx(1.0, abs=1e-5) and soft[0, 0, 0].item() == pytest.approx(0, abs=1e-5)
    assert 0.3 < soft[0, 10, 20].item() < 0.7  # on the edge
    assert soft.sum().item() == pytest.approx(mask.sum().item(), rel=0.02)
    assert torch.equal(feather(mask, 0), mask)


def test_box_mask_with_margin_is_clipped_to_the_image():
    boxes = [[100, 200, 300, 500], [900, 900, 1000, 1000]]  # y_min, x_min, y_max, x_max on 0..1000
    mask = box_mask(boxes, (200, 100))  # width 200, height 100
    assert mask.shape == (1, 100, 200)
    assert mask[0, 10:30, 40:100].all() and mask[0, 10:30, 40:100].sum() == mask[0, :50].sum()
    assert mask[0, 90:, 180:].all()
    wide = box_mask(boxes[:1], (200, 100), margin=8)
    assert wide[0, 2:38, 32:108].all() and wide[0, 1, 31] == 0 and wide.sum() == 36 * 76
    assert box_mask([[0, 0, 1000, 1000]], (20, 10), margin=50).sum() == 200


def test_outpaint_canvas_places_the_original_and_masks_the_new_area():
    image = torch.rand(1, 16, 32, 3)
    canvas, mask = outpaint_canvas(image, 16, 0, 32, 16)
    assert canvas.shape == (1, 32, 80, 3) and mask.shape == (1, 32, 80)
    assert torch.equal(canvas[:, :16, 16:48], image)
    assert mask[0, :16, 16:48].sum() == 0 and mask.sum() == 32 * 80 - 16 * 32
    assert torch.equal(canvas[0, 5, 0], image[0, 5, 0])  # edges repeated
    for bad in ((0, 0, 0, 0), (-16, 0, 0, 0)):
        with pytest.raises(Ideogram4Error, match="LEFT,TOP,RIGHT,BOTTOM"):
            outpaint_canvas(image, *bad)


def test_composite_keeps_the_original_exactly_outside_the_mask():
    original, generated = torch.rand(2, 32, 48, 3), torch.rand(2, 32, 48, 3)
    mask = torch.zeros(1, 32, 48)
    mask[:, 8:24, 8:24] = 1.0
    mask[:, 8:24, 24] = 0.5
    out = composite(original, generated, mask)
    keep = (mask[0] == 0)[None, ..., None].expand_as(out)
    assert torch.equal(out[keep], original[keep])
    assert torch.equal(out[:, 8:24, 8:24], generated[:, 8:24, 8:24])
    torch.testing.assert_close(out[:, 8:24, 24], (original[:, 8:24, 24] + generated[:, 8:24, 24]) / 2)
